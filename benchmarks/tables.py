"""Tables in the README and docs, filled from the records they cite.

    python -m benchmarks.tables          # rewrite every marked table from its record
    python -m benchmarks.tables --check  # list the stale ones (exit 1); tests run this

A table is marked in Markdown as

    <!-- record: recipes/results/isbi2012_quick_cpu_last.md#1 -->
    | ... the table ... |
    <!-- /record -->

and is the record's tables (``#N``: its N-th table only; the record is a ``.md`` file
written beside its ``.json`` by the script that measured it). The README, CONTRIBUTING and
every page under ``docs/`` and ``recipes/`` are searched.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARK = re.compile(r"(<!-- record: (?P<path>[^#\s]+)(?:#(?P<n>\d+))? -->\n)(?P<body>.*?)"
                  r"(<!-- /record -->)", re.S)


def record_tables(path: Path, n: int | None = None) -> str:
    """The tables of record ``path`` (blocks of lines starting with ``|``), or the n-th."""
    blocks, block = [], []
    for line in [*path.read_text().splitlines(), ""]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            blocks.append("\n".join(block))
            block = []
    if not blocks:
        raise ValueError(f"{path} holds no table")
    if n is not None and not 1 <= n <= len(blocks):
        raise ValueError(f"{path} holds {len(blocks)} tables, not #{n}")
    return (blocks[n - 1] if n else "\n\n".join(blocks)) + "\n"


def pages(root: Path) -> list[Path]:
    found = [root / "README.md", root / "CONTRIBUTING.md"]
    found += sorted((root / "docs").rglob("*.md")) + [root / "recipes" / "README.md"]
    return [page for page in found if page.is_file()]


def fill(text: str, root: Path) -> str:
    def table(match):
        n = int(match["n"]) if match["n"] else None
        return match[1] + record_tables(root / match["path"], n) + match[5]

    return MARK.sub(table, text)


def check(root: Path = ROOT) -> list[str]:
    """The pages whose marked tables differ from their records."""
    return [str(page.relative_to(root)) for page in pages(root)
            if fill(page.read_text(), root) != page.read_text()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="list stale pages; change none")
    args = parser.parse_args(argv)
    stale = check()
    if args.check:
        print("\n".join(stale) or "every marked table matches its record")
        return 1 if stale else 0
    for name in stale:
        page = ROOT / name
        page.write_text(fill(page.read_text(), ROOT))
        print(f"rewrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
