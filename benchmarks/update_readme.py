"""Regenerate the results block of benchmarks/README.md from recorded `rtstyle bench` JSON.

Usage: python benchmarks/update_readme.py benchmarks/results/*.json
Each JSON file gets a section (named after the file) between the RESULTS markers, with
the date, machine, command, table and its plots; the rest of the README is left alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rtstyle.bench.report import markdown
from rtstyle.files import write_bytes_atomic

HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- RESULTS:BEGIN -->", "<!-- RESULTS:END -->"


def section(path: Path) -> str:
    report = json.loads(path.read_text())
    plots = HERE / "plots" / path.stem
    lines = [f"### `{path.relative_to(HERE)}`", "", markdown(report)]
    for png in sorted(plots.glob("*.png")):
        lines.append(f"![{png.stem}]({png.relative_to(HERE)})")
    return "\n".join(lines) + "\n"


def main(paths: list[str]) -> int:
    readme = HERE / "README.md"
    text = readme.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    body = "\n".join(section(Path(p).resolve()) for p in sorted(paths))
    write_bytes_atomic(readme, f"{head}{BEGIN}\n{body}\n{END}{tail}".encode())
    print(f"updated {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
