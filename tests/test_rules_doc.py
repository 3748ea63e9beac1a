"""Check that docs/rules.md and docs/rules.zh-CN.md document every registered rule.

Each rule needs a section headed `### <rule-id>`, which is also the anchor that
the SARIF helpUri `docs/rules.md#<rule-id>` points at. The section states the
severity the rule is registered with, on a line `Severity: <severity>` in
English or `严重级别: <severity>` in Chinese.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from reck8s.check import RULES, SILENCE_RULE
from reck8s.model import Severity

DOCS = Path(__file__).resolve().parents[1] / "docs"
ENGLISH = DOCS / "rules.md"
CHINESE = DOCS / "rules.zh-CN.md"
PAGES = (ENGLISH, CHINESE)
SEVERITY_LABELS = {ENGLISH: "Severity", CHINESE: "严重级别"}

# Every documented id and its severity: the registered rules, and the finding
# that check.py adds for an ignore annotation without a reason.
DOCUMENTED = {rule_id: rule.severity.value for rule_id, rule in RULES.items()}
DOCUMENTED[SILENCE_RULE] = Severity.ERROR.value

RULE_CASES = [(page, rule_id) for page in PAGES for rule_id in sorted(DOCUMENTED)]


def _case_id(case: tuple[Path, str]) -> str:
    page, rule_id = case
    return f"{page.name}:{rule_id}"


def read_sections(page: Path) -> list[tuple[str, str]]:
    """Return (heading, body) for each `### ` heading of a page, in order.

    A body runs to the next heading of any level. Lines inside fenced code
    blocks are never headings, because YAML comments also start with `#`.
    """
    sections: list[tuple[str, str]] = []
    heading: str | None = None
    body: list[str] = []
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and line.startswith("#"):
            if heading is not None:
                sections.append((heading, "\n".join(body)))
            heading = line[4:].strip() if line.startswith("### ") else None
            body = []
        elif heading is not None:
            body.append(line)
    if heading is not None:
        sections.append((heading, "\n".join(body)))
    return sections


def headings(page: Path) -> list[str]:
    return [heading for heading, _ in read_sections(page)]


def section_body(page: Path, rule_id: str) -> str | None:
    for heading, body in read_sections(page):
        if heading == rule_id:
            return body
    return None


@pytest.mark.parametrize("case", RULE_CASES, ids=_case_id)
def test_rule_has_heading(case: tuple[Path, str]) -> None:
    page, rule_id = case
    assert rule_id in headings(page), f"{page.name} has no heading `### {rule_id}`"


@pytest.mark.parametrize("case", RULE_CASES, ids=_case_id)
def test_rule_states_severity(case: tuple[Path, str]) -> None:
    page, rule_id = case
    label = SEVERITY_LABELS[page]
    body = section_body(page, rule_id) or ""

    match = re.search(rf"^{label}: (\w+)", body, re.MULTILINE)

    assert match is not None, f"{page.name}: section {rule_id} has no line `{label}: <severity>`"
    assert match.group(1) == DOCUMENTED[rule_id], (
        f"{page.name}: section {rule_id} states severity {match.group(1)}, "
        f"but the rule is registered as {DOCUMENTED[rule_id]}"
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_headings_name_rules(page: Path) -> None:
    unknown = sorted(set(headings(page)) - set(DOCUMENTED))
    assert unknown == [], f"{page.name} has `### ` headings for rules that do not exist: {unknown}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_headings_unique(page: Path) -> None:
    found = headings(page)
    repeated = sorted({heading for heading in found if found.count(heading) > 1})
    assert repeated == [], f"{page.name} has these `### ` headings more than once: {repeated}"


def test_pages_share_headings() -> None:
    english, chinese = set(headings(ENGLISH)), set(headings(CHINESE))
    assert sorted(english - chinese) == [], "`### ` headings in rules.md but not in rules.zh-CN.md"
    assert sorted(chinese - english) == [], "`### ` headings in rules.zh-CN.md but not in rules.md"


def test_pages_link_each_other() -> None:
    assert "(rules.zh-CN.md)" in ENGLISH.read_text(encoding="utf-8"), "rules.md does not link rules.zh-CN.md"
    assert "(rules.md)" in CHINESE.read_text(encoding="utf-8"), "rules.zh-CN.md does not link rules.md"
