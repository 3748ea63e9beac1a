"""Print findings: a table for people, JSON for machines."""
from __future__ import annotations

import json
import shutil
import textwrap
from typing import TextIO

from reck8s.i18n import t
from reck8s.model import CheckReport


def print_json(reports: list[CheckReport], out: TextIO) -> None:
    document = [
        {"target": r.target, "findings": [f.to_json() for f in r.findings]}
        for r in reports
    ]
    json.dump(document, out, indent=2, ensure_ascii=False)
    out.write("\n")


def print_table(reports: list[CheckReport], out: TextIO) -> None:
    width = max(60, shutil.get_terminal_size((100, 20)).columns)
    for report in reports:
        errors = report.errors
        others = len(report.findings) - errors
        out.write(
            t("{target}: {errors} errors, {others} warnings and notes\n",
              "{target}: {errors} 个错误, {others} 个警告和提示\n").format(target=report.target, errors=errors, others=others)
        )
        for finding in report.findings:
            where = f"{finding.kind} {finding.namespace + '/' if finding.namespace else ''}{finding.name}"
            out.write(f"  {finding.severity.value.upper():7} {finding.rule:28} {where}\n")
            if finding.file:
                out.write(f"          {t('file', '文件')}: {finding.file}\n")
            for label, text in ((t("problem", "问题"), finding.message), (t("fix", "修复"), finding.fix)):
                wrapped = textwrap.wrap(text, width=width - 20) or [""]
                out.write(f"          {label}: {wrapped[0]}\n")
                for line in wrapped[1:]:
                    out.write(f"                  {line}\n")
        if not report.findings:
            out.write(t("  clean: no findings\n", "  通过: 没有发现问题\n"))
