"""Committed prose and records state results: no machine paths, no diary words, and every
table marked as coming from a record equals that record's table (benchmarks/tables.py)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEXT = (".md", ".json", ".toml", ".txt")
# An absolute path: /word/... at the start of a token, or a Windows drive path.
ABSOLUTE = re.compile(r"(?:^|(?<=[\s\"'(`=\[,]))(/(?!/)[\w.+-]+/[\w.+/-]*|[A-Za-z]:\\[\w\\.-]+)")
# Words that describe the writer's situation instead of a result.
DIARY = re.compile(r"\b(this (?:CPU|machine|session|box|computer)|today|yesterday|here)\b",
                   re.IGNORECASE)


def committed_text() -> list[Path]:
    """The README, CONTRIBUTING, the docs and every record and preset."""
    files = [ROOT / "README.md", ROOT / "CONTRIBUTING.md"]
    for folder in ("docs", "recipes", "benchmarks/results"):
        files += sorted(p for p in (ROOT / folder).rglob("*") if p.suffix in TEXT)
    return [f for f in files if f.is_file()]


@pytest.mark.parametrize("rule, pattern", [("an absolute path", ABSOLUTE),
                                           ("a diary word", DIARY)])
def test_no_machine_paths_or_diary_words(rule, pattern):
    found = []
    for path in committed_text():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for match in pattern.finditer(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)!r}")
    assert not found, f"{len(found)} x {rule}:\n" + "\n".join(found[:40])


def test_tables_marked_as_from_records_match_them():
    from benchmarks import tables

    stale = tables.check(ROOT)
    assert not stale, "regenerate with `python -m benchmarks.tables`: " + ", ".join(stale)


def test_the_readme_is_a_front_page():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 300
