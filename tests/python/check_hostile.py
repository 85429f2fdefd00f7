"""Checks generated projects whose names and summaries are hostile text.

Usage: check_hostile.py BASELINE_DIR CASES_DIR

Every case directory holds the .py files of one generated project and expected.json with the
name and summary it was generated from. For each case, every file must compile, must have the
same syntax tree as the baseline's file once string constants are blanked (so no text escaped
its literal to become code), and TITLE/DESCRIPTION in app/main.py must evaluate to exactly the
name and summary.
"""

import ast
import json
import sys
from pathlib import Path


def shape(source: str, path: str) -> str:
    tree = ast.parse(source, filename=path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    return ast.dump(tree, include_attributes=False)


def literals(source: str) -> dict[str, str]:
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("TITLE", "DESCRIPTION"):
                found[node.targets[0].id] = ast.literal_eval(node.value)
    return found


def main() -> int:
    baseline, cases = Path(sys.argv[1]), Path(sys.argv[2])
    expected_shapes = {
        p.relative_to(baseline).as_posix(): shape(p.read_text(), str(p))
        for p in baseline.rglob("*.py")
    }
    failures = []
    checked = files = 0
    for case in sorted(p for p in cases.iterdir() if p.is_dir()):
        checked += 1
        want = json.loads((case / "expected.json").read_text(encoding="utf-8"))
        for rel, expected in expected_shapes.items():
            path = case / rel
            files += 1
            try:
                source = path.read_text(encoding="utf-8")
                compile(source, str(path), "exec")
                if shape(source, str(path)) != expected:
                    failures.append(f"{case.name}/{rel}: structure differs from the baseline")
            except (SyntaxError, ValueError, UnicodeDecodeError, OSError) as e:
                failures.append(f"{case.name}/{rel}: {e}")
        got = literals((case / "app/main.py").read_text(encoding="utf-8"))
        if got != {"TITLE": want["name"], "DESCRIPTION": want["summary"]}:
            failures.append(f"{case.name}: literals do not round-trip: {got!r} != {want!r}")
    for f in failures[:20]:
        print(f)
    print(f"{checked} hostile projects, {files} files: {len(failures)} failures")
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
