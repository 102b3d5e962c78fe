"""SECURITY.md stays true: every numbered rule names tests that exist, and every rule the code
cites exists (a stale security document is a bug)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = ("civic", "node", "federation", "activities", "web")
RULE_ROW = re.compile(r"^\| *(\d+) *\|(.+)$", re.MULTILINE)
CITED = re.compile(r"SECURITY\.md,? rules? ((?:\d+(?:, | and | or |-|–))*\d+)")
SECTION = re.compile(r'FEDERATION\.md,? \(?"([^"]+)"')
HEADING = re.compile(r"^#+ +(.+?) *$", re.MULTILINE)


def _rules() -> dict[int, str]:
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    return {int(n): row for n, row in RULE_ROW.findall(text)}


def _test_names() -> set[str]:
    names = set()
    for path in (ROOT / "tests").rglob("*.py"):
        names.update(re.findall(r"def (test_\w+)", path.read_text(encoding="utf-8")))
    return names


def _code_files():
    for package in (*CODE, "tests", "bench"):
        yield from (p for p in (ROOT / package).rglob("*.py") if p.name != "test_security_doc.py")


def test_security_doc__rules_are_numbered_in_order_and_each_names_existing_tests():
    rules, tests = _rules(), _test_names()
    assert sorted(rules) == list(range(1, len(rules) + 1)), "rules are numbered 1..N without gaps"
    for number, row in rules.items():
        named = re.findall(r"`(test_\w+)", row)
        paths = re.findall(r"`(tests/[\w/]+\.py)", row)
        assert named or paths, f"rule {number} names no test"
        for name in named:
            assert name in tests, f"rule {number} names {name}, which does not exist"
        for path in paths:
            assert (ROOT / path).exists(), f"rule {number} names {path}, which does not exist"


def test_security_doc__every_rule_the_code_cites_exists_and_no_outside_document_is_cited():
    rules = _rules()
    for path in _code_files():
        text = path.read_text(encoding="utf-8")
        assert "INTEROP" not in text and "../shared" not in text and "DESIGN" not in text, \
            f"{path.relative_to(ROOT)} cites a document outside this repository"
        for group in CITED.findall(text):
            for number in re.findall(r"\d+", group):
                assert int(number) in rules, f"{path.relative_to(ROOT)} cites rule {number}"


def test_security_doc__every_federation_section_the_code_cites_exists():
    """Comments cite FEDERATION.md sections by their heading ("What we send"); each must exist."""
    headings = set(HEADING.findall((ROOT / "FEDERATION.md").read_text(encoding="utf-8")))
    for path in _code_files():
        for section in SECTION.findall(path.read_text(encoding="utf-8")):
            section = re.sub(r"\s+#?\s*", " ", section)  # a citation may wrap onto a comment line
            assert section in headings, f"{path.relative_to(ROOT)} cites FEDERATION.md {section!r}"
