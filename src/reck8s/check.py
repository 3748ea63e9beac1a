"""Run every rule over one rendered target and collect the findings."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from reck8s.errors import UsageError
from reck8s.i18n import t
from reck8s.model import CheckReport, Finding, Resource, Severity
from reck8s import against as against_module
from reck8s.kustomization import InputBuilder, load_tree
from reck8s.render import CONTRACT, load_target
from reck8s.schema import SchemaLoadError, SchemaStore
from reck8s.toolchain import Pins, require_schemas
from reck8s.rules import RULES, Context
# Importing each rule module registers its rules.
from reck8s.rules import certificates, contract, edge, hardening, istio, kustomize, mesh_security, podsecurity, references, schema, workloads  # noqa: F401

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
# `ignore.reck8s.dev/RULE: "reason"` on an object silences RULE for that object.
IGNORE_PREFIX = "ignore.reck8s.dev/"
SILENCE_RULE = "silence-without-reason"


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
    **context: Any,
) -> CheckReport:
    """Run the rules over one target; `context` sets Context's optional fields (kustomizations, inputs, previous)."""
    ctx = Context(resources, environment=environment, contract=contract_, schemas=schemas, **context)
    report = CheckReport(target, resources=resources)
    for rule_ in RULES.values():
        if only is not None and rule_.id not in only:
            continue
        for hit in rule_.check(ctx):
            finding = _finding(rule_.id, hit.severity or rule_.severity, hit.resource, hit.message, hit.fix)
            reason = hit.resource.annotations.get(IGNORE_PREFIX + rule_.id)
            if reason is not None:
                # YAML turns an unquoted yes or 1 into a bool or a number.
                reason = str(reason)
            if reason is None:
                report.findings.append(finding)
            elif reason.strip():
                report.silenced.append(finding)
            else:
                report.findings.append(finding)
                report.findings.append(_empty_reason(rule_.id, hit.resource))
    report.findings.sort(key=sort_key)
    return report


def sort_key(finding: Finding) -> tuple[int, str, str, str, str, str]:
    return (SEVERITY_ORDER[finding.severity.value], finding.file, finding.kind, finding.namespace, finding.name, finding.rule)


def _finding(rule_id: str, severity: Severity, resource: Resource, message: str, fix: str) -> Finding:
    return Finding(
        rule=rule_id,
        severity=severity,
        kind=resource.kind,
        namespace=resource.namespace,
        name=resource.name,
        file=resource.file,
        message=message,
        fix=fix,
    )


def _empty_reason(rule_id: str, resource: Resource) -> Finding:
    key = IGNORE_PREFIX + rule_id
    return _finding(
        SILENCE_RULE, Severity.ERROR, resource,
        t("the annotation {key} silences {rule} but gives no reason, so the finding is still reported.",
          "注解 {key} 屏蔽了 {rule}, 但没有说明原因, 因此该问题仍会报告。").format(key=key, rule=rule_id),
        t("Write why the finding does not apply as the annotation's value, for example {key}: \"canary runs one replica by design\".",
          "在注解的值中写明该问题为何不适用, 例如 {key}: \"金丝雀按设计只运行一个副本\"。").format(key=key),
    )


def load_schemas(pins: Pins) -> SchemaStore:
    openapi_dir, crd_files = require_schemas(pins)
    try:
        return SchemaStore.load(openapi_dir, crd_files)
    except SchemaLoadError as error:
        raise UsageError(
            t("cannot load the schemas: {error}. Run `make setup` again to restore the cache.",
              "无法加载 schema: {error}。请重新运行 `make setup` 恢复缓存。").format(error=error)
        ) from error


def check_targets(
    pins: Pins,
    root: Path,
    names: list[str],
    against: str | None = None,
    cluster: Any = None,
) -> list[CheckReport]:
    """Render and check each target: an environment, a kustomization folder or YAML files.

    `against` is a git ref, or "cluster" for the live objects of `cluster`,
    whose workload selectors the render must keep.
    """
    schemas = load_schemas(pins)
    contract_ = load_contract(root)

    # Render every target before reporting any, so bad input stops the run
    # early; kustomize runs in its own process, so the renders overlap.
    with ThreadPoolExecutor(max_workers=4) as pool:
        targets = list(pool.map(lambda name: load_target(pins, root, name), names))

    previous: dict[str, Any] = {}
    if against == "cluster":
        previous = against_module.from_cluster(cluster, targets)
    elif against:
        previous = against_module.from_git(pins, against, targets)

    inputs = InputBuilder(pins)
    reports = []
    for target in targets:
        kustomizations = load_tree(target.folder, root) if target.folder else []
        reports.append(run_rules(
            target.name, target.resources,
            environment=target.environment,
            contract_=contract_ if target.environment else None,
            schemas=schemas,
            kustomizations=kustomizations,
            inputs=inputs if kustomizations else None,
            previous=previous.get(target.name) if against else None,
            previous_source=against or "",
        ))
    return reports

