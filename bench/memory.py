"""Memory of a process tree, sampled while it runs: the proportional set size (PSS) summed
over a process and its descendants (dlt's normalize workers), from /proc."""

from __future__ import annotations

import threading
from pathlib import Path


def _children(pid: int) -> list[int]:
    """pid and all its descendants, from the parent ids in /proc/*/stat."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # gone meanwhile
        fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces
        parents[int(stat.parent.name)] = int(fields[1])
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += [child for child, parent in parents.items() if parent == current]
    return tree


def _pss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except (OSError, ValueError):
            continue  # exited meanwhile
    return total


class PeakPss(threading.Thread):
    """Samples the summed PSS of a process tree every `every` seconds; keeps the peak."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak_kb = pid, every, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_kb = max(self.peak_kb, _pss_kb(_children(self.pid)))
            self.done.wait(self.every)
