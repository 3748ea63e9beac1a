"""The rule registry and what every rule reads: the rendered objects of one target.

A rule is a function decorated with `@rule(id, severity, summary)` that
yields `Hit`s; adding a rule touches one module and nothing else.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from reck8s.model import Resource, Severity

POD_TEMPLATE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
SCALABLE_KINDS = ("Deployment", "StatefulSet", "ReplicaSet")

# Built-in kinds that live outside namespaces; custom kinds take their scope
# from their CRD (see Context.is_namespaced).
CLUSTER_SCOPED_KINDS = frozenset({
    "Namespace", "Node", "PersistentVolume", "StorageClass", "IngressClass",
    "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass",
    "RuntimeClass", "CSIDriver", "CSINode", "VolumeAttachment", "APIService",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
    "FlowSchema", "PriorityLevelConfiguration", "CertificateSigningRequest",
    "DeviceClass", "ResourceSlice",
})


@dataclass(frozen=True)
class Hit:
    resource: Resource
    message: str
    fix: str
    severity: Severity | None = None


RuleFunc = Callable[["Context"], Iterable[Hit]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str
    check: RuleFunc


RULES: dict[str, Rule] = {}


def rule(rule_id: str, severity: Severity, summary: str) -> Callable[[RuleFunc], RuleFunc]:
    def register(func: RuleFunc) -> RuleFunc:
        if rule_id in RULES:
            raise ValueError(f"rule {rule_id} is registered twice")
        RULES[rule_id] = Rule(rule_id, severity, summary, func)
        return func

    return register


@dataclass
class Workload:
    """An object that creates pods, with its pod template and expected count."""

    resource: Resource
    template: dict[str, Any]

    @property
    def pod_labels(self) -> dict[str, str]:
        return (self.template.get("metadata") or {}).get("labels") or {}

    @property
    def pod_spec(self) -> dict[str, Any]:
        return self.template.get("spec") or {}

    def containers(self, init: bool = True) -> list[dict[str, Any]]:
        spec = self.pod_spec
        found = list(spec.get("containers") or [])
        if init:
            found = list(spec.get("initContainers") or []) + found
        return found


@dataclass
class Context:
    resources: list[Resource]
    environment: str | None = None
    contract: dict[str, Any] | None = None
    schemas: Any = None
    # The kustomization files behind the render, empty for plain YAML input.
    kustomizations: list[Any] = field(default_factory=list)
    # Builds a kustomization's inputs (reck8s.kustomization.InputBuilder), or None.
    inputs: Any = None
    # The same objects at an earlier version (`check --against`), keyed by (kind, namespace, name).
    previous: dict[tuple[str, str, str], dict[str, Any]] | None = None
    previous_source: str = ""
    _by_kind: dict[str, list[Resource]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for resource in self.resources:
            self._by_kind.setdefault(resource.kind, []).append(resource)

    def of_kind(self, *kinds: str) -> list[Resource]:
        found: list[Resource] = []
        for kind in kinds:
            found.extend(self._by_kind.get(kind, []))
        return found

    def find(self, kind: str, name: str, namespace: str) -> Resource | None:
        for resource in self._by_kind.get(kind, []):
            if resource.name == name and resource.namespace == namespace:
                return resource
        return None

    def is_namespaced(self, resource: Resource) -> bool:
        if resource.kind in CLUSTER_SCOPED_KINDS:
            return False
        scope = getattr(self.schemas, "scope", None)
        if scope is not None:
            known = scope(resource.api_version, resource.kind)
            if known is not None:
                return known == "Namespaced"
        return True

    def workloads(self) -> list[Workload]:
        found = [Workload(r, r.spec.get("template") or {}) for r in self.of_kind(*POD_TEMPLATE_KINDS)]
        for cronjob in self.of_kind("CronJob"):
            job = (cronjob.spec.get("jobTemplate") or {}).get("spec") or {}
            found.append(Workload(cronjob, job.get("template") or {}))
        for pod in self.of_kind("Pod"):
            found.append(Workload(pod, {"metadata": pod.metadata, "spec": pod.spec}))
        return found

    def workloads_selected(self, namespace: str, selector: dict[str, str]) -> list[Workload]:
        """Return the workloads in a namespace whose pods carry every label of `selector`."""
        if not selector:
            return []
        return [
            w for w in self.workloads()
            if w.resource.namespace == namespace and labels_match(selector, w.pod_labels)
        ]

    def hpa_for(self, workload: Resource) -> Resource | None:
        for hpa in self.of_kind("HorizontalPodAutoscaler"):
            target = hpa.spec.get("scaleTargetRef") or {}
            if (
                hpa.namespace == workload.namespace
                and target.get("kind") == workload.kind
                and target.get("name") == workload.name
            ):
                return hpa
        return None

    def replica_count(self, workload: Resource) -> int | None:
        """Return the pod count that matters at rest: the HPA's minimum, else spec.replicas."""
        if workload.kind not in SCALABLE_KINDS:
            return None
        hpa = self.hpa_for(workload)
        if hpa is not None:
            return int(hpa.spec.get("minReplicas", 1))
        return int(workload.spec.get("replicas", 1))


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Evaluate a LabelSelector (matchLabels and matchExpressions) against labels.

    A missing selector selects nothing; an empty one ({}) selects everything,
    as in a policy/v1 PodDisruptionBudget.
    """
    if selector is None:
        return False
    if not labels_match(selector.get("matchLabels") or {}, labels):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True
