"""Production code never imports the emulator or the tests."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pipelines" / "insightly"


def test_production_code_never_imports_tests_or_the_emulator():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}"
                for n in names
                if n.split(".")[0] in ("tests", "insightly_emulator")
            ]
    assert list(PACKAGE.rglob("*.py")), "the package moved?"
    assert offenders == []
