"""Object names, namespaces, labels and annotations, checked as the API server's ObjectMeta validation does."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from reck8s.schema.errors import SchemaViolation
from reck8s.schema.values import child_path, quote

# Limits that the Kubernetes v1.36 API server applies to names, labels and annotations.
DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
LABEL_VALUE_MAX = 63
QUALIFIED_NAME_MAX = 63
ANNOTATIONS_TOTAL_MAX_BYTES = 256 * 1024

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
# Kinds whose names only need to be path segments, so "system:node-proxier" is valid.
RBAC_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})

# A name check, which returns what is wrong with a name, or None for a valid name.
NameRule = Callable[[str], "str | None"]


def select_name_rule(group: str, kind: str) -> NameRule:
    """Return the name check that the API server applies to this kind.

    Most kinds take a DNS subdomain. The exceptions are in pkg/apis/core/validation
    and pkg/apis/rbac/validation of Kubernetes v1.36.
    """
    if group == "" and kind == "Namespace":
        return _dns1123_label_problem
    if group == "" and kind == "Service":
        return _dns1035_label_problem
    if group == "rbac.authorization.k8s.io" and kind in RBAC_KINDS:
        return _path_segment_problem
    return _dns1123_subdomain_problem


def object_meta_violations(metadata: Mapping, path: str, name_rule: NameRule) -> list[SchemaViolation]:
    """Check names, labels and annotations the way the API server's ObjectMeta validation does.

    Name, generateName and namespace are checked for the object's own
    metadata only. Nested metadata, such as a pod template's, gets the label
    and annotation checks.
    """
    violations: list[SchemaViolation] = []
    if path == "metadata":
        violations.extend(_object_name_violations(metadata, name_rule))

    labels = metadata.get("labels")
    if isinstance(labels, Mapping):
        for key, value in labels.items():
            child = child_path(f"{path}.labels", str(key))
            key_problem = _qualified_name_problem(str(key))
            if key_problem is not None:
                violations.append(SchemaViolation(child, f"invalid label key {quote(str(key))}: {key_problem}"))
            value_problem = _label_value_problem(value) if isinstance(value, str) else None
            if value_problem is not None:
                violations.append(SchemaViolation(child, f"invalid label value {quote(value)}: {value_problem}"))

    annotations = metadata.get("annotations")
    if isinstance(annotations, Mapping):
        total_bytes = 0
        for key, value in annotations.items():
            key_problem = _qualified_name_problem(str(key))
            if key_problem is not None:
                child = child_path(f"{path}.annotations", str(key))
                violations.append(SchemaViolation(child, f"invalid annotation key {quote(str(key))}: {key_problem}"))
            total_bytes += len(str(key).encode()) + len(str(value if value is not None else "").encode())
        if total_bytes > ANNOTATIONS_TOTAL_MAX_BYTES:
            violations.append(SchemaViolation(
                f"{path}.annotations",
                f"annotations are {total_bytes} bytes in total, but must be at most {ANNOTATIONS_TOTAL_MAX_BYTES}",
            ))
    return violations


def _object_name_violations(metadata: Mapping, name_rule: NameRule) -> list[SchemaViolation]:
    violations: list[SchemaViolation] = []
    name = metadata.get("name")
    generate_name = metadata.get("generateName")
    if not name and not generate_name:
        message = 'missing required field "name"; set metadata.name or metadata.generateName'
        violations.append(SchemaViolation("metadata.name", message))
    if isinstance(name, str) and name:
        problem = name_rule(name)
        if problem is not None:
            violations.append(SchemaViolation("metadata.name", f"invalid name {quote(name)}: {problem}"))
    if isinstance(generate_name, str) and generate_name and not name:
        problem = name_rule(_mask_trailing_dash(generate_name))
        if problem is not None:
            message = f"invalid name prefix {quote(generate_name)}: {problem}"
            violations.append(SchemaViolation("metadata.generateName", message))

    namespace = metadata.get("namespace")
    if isinstance(namespace, str) and namespace:
        problem = _dns1123_label_problem(namespace)
        if problem is not None:
            violations.append(SchemaViolation("metadata.namespace", f"invalid namespace {quote(namespace)}: {problem}"))
    return violations


def _dns1123_subdomain_problem(name: str) -> str | None:
    if len(name) > DNS1123_SUBDOMAIN_MAX or not DNS1123_SUBDOMAIN.fullmatch(name):
        return (
            f"must be a lowercase RFC 1123 subdomain of at most {DNS1123_SUBDOMAIN_MAX} characters: "
            'lowercase letters, digits, "-" and ".", starting and ending with a letter or digit'
        )
    return None


def _dns1123_label_problem(name: str) -> str | None:
    if len(name) > DNS1123_LABEL_MAX or not DNS1123_LABEL.fullmatch(name):
        return (
            f"must be a lowercase RFC 1123 label of at most {DNS1123_LABEL_MAX} characters: "
            'lowercase letters, digits and "-", starting and ending with a letter or digit'
        )
    return None


def _dns1035_label_problem(name: str) -> str | None:
    if len(name) > DNS1123_LABEL_MAX or not DNS1035_LABEL.fullmatch(name):
        return (
            f"must be an RFC 1035 label of at most {DNS1123_LABEL_MAX} characters: "
            'lowercase letters, digits and "-", starting with a letter and ending with a letter or digit'
        )
    return None


def _path_segment_problem(name: str) -> str | None:
    if name in (".", ".."):
        return 'must not be "." or ".."'
    if "/" in name or "%" in name:
        return 'must not contain "/" or "%"'
    return None


def _mask_trailing_dash(prefix: str) -> str:
    """Replace a final "-" with "a", as the API server does before it checks generateName."""
    if len(prefix) > 1 and prefix.endswith("-"):
        return prefix[:-1] + "a"
    return prefix


def _qualified_name_problem(key: str) -> str | None:
    """Check a label or annotation key: an optional DNS subdomain prefix and "/", then a name."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return 'the prefix before "/" must not be empty'
    if "/" in prefix:
        return 'must contain at most one "/"'
    if prefix and _dns1123_subdomain_problem(prefix) is not None:
        return f"the prefix {quote(prefix)} must be a lowercase RFC 1123 subdomain, such as example.com"
    if not name:
        return "the name part must not be empty"
    if len(name) > QUALIFIED_NAME_MAX:
        return f"the name part must be at most {QUALIFIED_NAME_MAX} characters"
    if not QUALIFIED_NAME.fullmatch(name):
        return (
            'the name part must consist of letters, digits, "-", "_" and ".", '
            "starting and ending with a letter or digit"
        )
    return None


def _label_value_problem(value: str) -> str | None:
    if len(value) > LABEL_VALUE_MAX:
        return f"must be at most {LABEL_VALUE_MAX} characters"
    if not LABEL_VALUE.fullmatch(value):
        return (
            'must be empty or consist of letters, digits, "-", "_" and ".", '
            "starting and ending with a letter or digit"
        )
    return None
