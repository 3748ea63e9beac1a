"""Rendered objects and the findings that checks report about them."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass
class Resource:
    """One rendered object and the source file that defined it."""

    obj: dict[str, Any]
    file: str = ""

    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion", ""))

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def metadata(self) -> dict[str, Any]:
        return self.obj.get("metadata") or {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "")

    @property
    def spec(self) -> dict[str, Any]:
        return self.obj.get("spec") or {}

    @property
    def labels(self) -> dict[str, str]:
        return self.metadata.get("labels") or {}

    @property
    def annotations(self) -> dict[str, str]:
        return self.metadata.get("annotations") or {}

    def ref(self) -> str:
        """Return the object as people write it: `Kind namespace/name`."""
        if self.namespace:
            return f"{self.kind} {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    kind: str
    namespace: str
    name: str
    file: str
    message: str
    fix: str

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "object": {"kind": self.kind, "namespace": self.namespace, "name": self.name},
            "file": self.file,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass
class CheckReport:
    target: str
    findings: list[Finding] = field(default_factory=list)
    # Findings dropped because the object carries an ignore annotation with a reason.
    silenced: list[Finding] = field(default_factory=list)
    # The checked objects, as kustomize rendered them (origin annotations removed).
    resources: list[Resource] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)
