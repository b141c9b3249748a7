"""Command line: serve an emulated Insightly tenant until SIGINT/SIGTERM.

    python -m insightly_emulator --port 8765 --seed 42 --profile demo --api-key demo-key
    python -m insightly_emulator --profile tiny --tenant odd   # an unusual tenant
    python -m insightly_emulator --port 0 --port-file /tmp/port   # free port, written out
    python -m insightly_emulator --profile demo --anchor today   # dates relative to today

Prints the base URL (``http://127.0.0.1:<port>/v3.1/``) on stdout once listening.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import CHOICES, DEFAULT_ANCHOR, PROFILES, TENANTS, EmulatorConfig, anchor_from
from .server import serve_forever


def _pairs(values: list[str], cast: type) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"expected NAME=VALUE, got {item!r}")
        out[name] = cast(value)
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="insightly-emulator", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument("--port-file", type=Path, help="write the chosen port to this file")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--profile", choices=PROFILES, default="test")
    p.add_argument(
        "--tenant", choices=TENANTS, default="standard", help="what kind of instance it is"
    )
    p.add_argument("--api-key", default="test-key")
    p.add_argument(
        "--anchor",
        metavar="today|ISO",
        help=f"generated data lies before it (default {DEFAULT_ANCHOR.date()}; "
        "today: today's midnight UTC)",
    )
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--size", action="append", default=[], metavar="ENTITY=N")
    p.add_argument("--daily-limit", type=int, default=100_000)
    p.add_argument("--rate-limit-per-s", type=float)
    p.add_argument("--max-in-flight", type=int)
    p.add_argument("--no-retry-after", action="store_true", help="429s without Retry-After")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--latency-jitter-ms", type=float, default=0.0, help="± uniform, per request")
    p.add_argument("--gzip-level", type=int, default=1, help="0 disables gzip")
    p.add_argument("--cache-mb", type=float, default=256.0, help="serialised-record cache")
    p.add_argument("--readahead-pages", type=int, default=2, help="0 disables read-ahead")
    p.add_argument(
        "--render-workers",
        type=int,
        default=0,
        help="processes rendering cold pages besides this one",
    )
    for name, choices in CHOICES.items():
        p.add_argument(f"--{name.replace('_', '-')}", choices=choices, default=choices[0])
    p.add_argument("--forbidden", action="append", default=[], metavar="ENTITY=403|404")
    p.add_argument("--non-array", action="append", default=[], metavar="ENTITY")
    p.add_argument("--broken-json", action="append", default=[], metavar="ENTITY")
    p.add_argument(
        "--fail-next", default="{}", metavar="JSON", help='e.g. {"Contacts": [500, "reset"]}'
    )
    p.add_argument("--fault-rate", type=float, default=0.0, help="share of requests that fail")
    p.add_argument(
        "--fault-mix",
        metavar="JSON",
        help='weights, e.g. {"500": 2, "reset": 1}; kinds 500 502 503 timeout reset truncated',
    )
    p.add_argument("--timeout-hold-s", type=float, default=65.0)
    p.add_argument(
        "--drift",
        default="{}",
        metavar="JSON",
        help='e.g. {"entity": "Contacts", "every_n_pages": 1, "updates": 3, "deletes": 2}',
    )
    return p


def config_from(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        seed=args.seed,
        profile=args.profile,
        tenant=args.tenant,
        api_key=args.api_key,
        anchor=anchor_from(args.anchor) if args.anchor else DEFAULT_ANCHOR,
        scale=args.scale,
        sizes=_pairs(args.size, int),  # type: ignore[arg-type]
        daily_limit=args.daily_limit,
        rate_limit_per_s=args.rate_limit_per_s,
        max_in_flight=args.max_in_flight,
        retry_after=not args.no_retry_after,
        latency_ms=args.latency_ms,
        latency_jitter_ms=args.latency_jitter_ms,
        gzip_level=args.gzip_level,
        cache_mb=args.cache_mb,
        readahead_pages=args.readahead_pages,
        render_workers=args.render_workers,
        forbidden=_pairs(args.forbidden, int),  # type: ignore[arg-type]
        non_array=set(args.non_array),
        broken_json=set(args.broken_json),
        fail_next=json.loads(args.fail_next),
        fault_rate=args.fault_rate,
        timeout_hold_s=args.timeout_hold_s,
        drift=json.loads(args.drift),
        **({"fault_mix": json.loads(args.fault_mix)} if args.fault_mix else {}),
        **{name: getattr(args, name) for name in CHOICES},
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        config = config_from(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def announce(port: int) -> None:
        if args.port_file:
            args.port_file.write_text(f"{port}\n")
        print(f"http://{args.host}:{port}/v3.1/", flush=True)

    serve_forever(config, args.host, args.port, announce)
    return 0


if __name__ == "__main__":
    sys.exit(main())
