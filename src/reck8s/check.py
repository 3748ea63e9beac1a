"""Run every rule over one rendered target and collect the findings."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from reck8s.errors import UsageError
from reck8s.i18n import t
from reck8s.model import CheckReport, Finding, Resource
from reck8s.render import CONTRACT
from reck8s.rules import RULES, Context
from reck8s.rules import contract, edge, istio, podsecurity, references, schema, workloads  # noqa: F401  (registers the rules)

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def load_contract(root: Path) -> dict[str, Any]:
    path = root / CONTRACT
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(
            t("cannot read the contract {path}: {error}", "无法读取契约文件 {path}: {error}").format(path=path, error=error)
        ) from error
    contract_ = document.get("kubernetes")
    if not isinstance(contract_, dict) or "namespaces" not in contract_ or "services" not in contract_:
        raise UsageError(
            t("{path} must have kubernetes.namespaces and kubernetes.services.",
              "{path} 必须包含 kubernetes.namespaces 和 kubernetes.services。").format(path=path)
        )
    return contract_


def run_rules(
    target: str,
    resources: list[Resource],
    environment: str | None = None,
    contract_: dict[str, Any] | None = None,
    schemas: Any = None,
    only: set[str] | None = None,
) -> CheckReport:
    ctx = Context(resources, environment=environment, contract=contract_, schemas=schemas)
    report = CheckReport(target)
    for rule_ in RULES.values():
        if only is not None and rule_.id not in only:
            continue
        for hit in rule_.check(ctx):
            resource = hit.resource
            report.findings.append(
                Finding(
                    rule=rule_.id,
                    severity=hit.severity or rule_.severity,
                    kind=resource.kind,
                    namespace=resource.namespace,
                    name=resource.name,
                    file=resource.file,
                    message=hit.message,
                    fix=hit.fix,
                )
            )
    report.findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity.value], f.file, f.kind, f.name, f.rule))
    return report
