"""Print findings: a table for people, JSON for machines."""
from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any, TextIO

from reck8s.i18n import is_chinese, t
from reck8s.check import sort_key
from reck8s.model import CheckReport, Finding, Severity


def print_json(reports: list[CheckReport], out: TextIO) -> None:
    """Print one JSON array with one object per finding, in a stable order."""
    findings = sorted((f for r in reports for f in r.findings), key=sort_key)
    json.dump([f.to_json() for f in findings], out, indent=2, ensure_ascii=False)
    out.write("\n")


def print_table(reports: list[CheckReport], out: TextIO) -> None:
    width = max(60, shutil.get_terminal_size((100, 20)).columns)
    for report in reports:
        counts = {severity: sum(1 for f in report.findings if f.severity is severity) for severity in Severity}
        out.write(
            t("{target}: {errors}, {warnings}, {info}\n", "{target}: {errors} 个错误, {warnings} 个警告, {info} 个提示\n").format(
                target=report.target,
                errors=_count(counts[Severity.ERROR], "error", "errors") if not is_chinese() else counts[Severity.ERROR],
                warnings=_count(counts[Severity.WARNING], "warning", "warnings") if not is_chinese() else counts[Severity.WARNING],
                info=_count(counts[Severity.INFO], "info", "info") if not is_chinese() else counts[Severity.INFO],
            )
        )
        for finding in report.findings:
            where = f"{finding.kind} {finding.namespace + '/' if finding.namespace else ''}{finding.name}"
            out.write(f"  {finding.severity.value.upper():7} {finding.rule:28} {where}\n")
            if finding.file:
                out.write(f"          {t('file', '文件')}: {finding.file}\n")
            for label, text in ((t("problem", "问题"), finding.message), (t("fix", "修复"), finding.fix)):
                # Names like postgres-service must stay whole for copy and search.
                wrapped = textwrap.wrap(text, width=width - 20, break_on_hyphens=False, break_long_words=False) or [""]
                out.write(f"          {label}: {wrapped[0]}\n")
                for line in wrapped[1:]:
                    out.write(f"                  {line}\n")
        if not report.findings:
            out.write(t("  clean: no findings\n", "  通过: 没有发现问题\n"))
        if report.silenced:
            out.write(t("  {n} silenced by ignore.reck8s.dev annotations\n",
                        "  {n} 个问题已被 ignore.reck8s.dev 注解屏蔽\n").format(
                n=_count(len(report.silenced), "finding", "findings") if not is_chinese() else len(report.silenced)))


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def print_sarif(reports: list[CheckReport], out: TextIO, root: Path) -> None:
    """Print SARIF 2.1.0 for code-scanning interfaces: one run, every rule, one result per finding."""
    from reck8s import __version__
    from reck8s.check import RULES, SILENCE_RULE

    rules = [
        {
            "id": rule.id,
            "shortDescription": {"text": rule.summary},
            "helpUri": f"docs/rules.md#{rule.id}",
            "defaultConfiguration": {"level": SARIF_LEVELS[rule.severity.value]},
        }
        for rule in RULES.values()
    ]
    rules.append({
        "id": SILENCE_RULE,
        "shortDescription": {"text": "An ignore.reck8s.dev annotation gives a reason."},
        "helpUri": f"docs/rules.md#{SILENCE_RULE}",
        "defaultConfiguration": {"level": "error"},
    })
    results = [_sarif_result(f, root) for f in sorted((f for r in reports for f in r.findings), key=sort_key)]
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "reck8s", "version": __version__, "rules": rules}},
            "results": results,
        }],
    }
    json.dump(document, out, indent=2, ensure_ascii=False)
    out.write("\n")


def _sarif_result(finding: Finding, root: Path) -> dict[str, Any]:
    qualified = "/".join(p for p in (finding.kind, finding.namespace, finding.name) if p)
    location: dict[str, Any] = {
        "logicalLocations": [{"fullyQualifiedName": qualified, "kind": "object"}],
    }
    if finding.file:
        physical: dict[str, Any] = {"artifactLocation": {"uri": finding.file}}
        source = Path(finding.file) if Path(finding.file).is_file() else root / finding.file
        line = _line_of(source, finding.kind, finding.name)
        if line:
            physical["region"] = {"startLine": line}
        location["physicalLocation"] = physical
    return {
        "ruleId": finding.rule,
        "level": SARIF_LEVELS[finding.severity.value],
        "message": {"text": f"{finding.message} {t('Fix', '修复')}: {finding.fix}"},
        "locations": [location],
        "properties": {"fix": finding.fix, "object": {"kind": finding.kind, "namespace": finding.namespace, "name": finding.name}},
    }


def _line_of(path: Path, kind: str, name: str) -> int | None:
    """Return the line of `name: NAME` in the document of `kind: KIND`, or None."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    in_kind = False
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if line.startswith("---"):
            in_kind = False
        elif line.startswith("kind:"):
            in_kind = stripped.split(":", 1)[1].strip() == kind
        elif in_kind and stripped == f"name: {name}":
            return number
    return None
