"""Built-in kinds: the per-group-version OpenAPI v3 documents of Kubernetes.

The Kubernetes source tree ships one document per group-version under
api/openapi-spec/v3, named like ``apis__apps__v1_openapi.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reck8s.schema.errors import SchemaLoadError

Schema = Mapping[str, Any]

REF_PREFIX = "#/components/schemas/"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"

API_GROUP_PATTERN = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
API_VERSION_PATTERN = re.compile(r"[a-z0-9]+")
GROUP_VERSION_FILE = re.compile(r"(api__[a-z0-9]+|apis__[^_]+__[a-z0-9]+)_openapi\.json")

# The values of a CRD's spec.scope, also used for built-in kinds.
NAMESPACED = "Namespaced"
CLUSTER = "Cluster"
NAMESPACED_PATH_PART = "/namespaces/{namespace}/"


# Fields that the API server allows on every object and embedded resource.
EMBEDDED_RESOURCE_PROPERTIES: Mapping[str, Schema] = {
    "apiVersion": {"type": "string"},
    "kind": {"type": "string"},
    "metadata": {"$ref": REF_PREFIX + OBJECT_META},
}


@dataclass(frozen=True)
class OpenApiDocument:
    schemas: Mapping[str, Schema]
    kinds: Mapping[str, str]  # creatable kind -> name in components.schemas
    scopes: Mapping[str, str]  # creatable kind -> NAMESPACED or CLUSTER


def split_api_version(api_version: str) -> tuple[str, str] | None:
    """Split "apps/v1" into ("apps", "v1") and "v1" into ("", "v1"), or return None if malformed."""
    parts = api_version.split("/")
    if len(parts) == 1:
        group, version = "", parts[0]
    elif len(parts) == 2:
        group, version = parts
        if not API_GROUP_PATTERN.fullmatch(group):
            return None
    else:
        return None
    if not API_VERSION_PATTERN.fullmatch(version):
        return None
    return group, version


def openapi_file_name(group: str, version: str) -> str:
    if not group:
        return f"api__{version}_openapi.json"
    return f"apis__{group}__{version}_openapi.json"


def load_openapi_document(path: Path, group: str, version: str) -> OpenApiDocument:
    """Read one group-version OpenAPI file and index the kinds it can create, with their scopes.

    A kind counts as creatable when a POST operation of that group-version
    returns it. It is namespaced when the path of that operation contains
    "/namespaces/{namespace}/", and cluster-scoped otherwise.
    """
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as error:
        raise SchemaLoadError(f"failed to read Kubernetes OpenAPI file {path}: {error}") from error

    schemas = data.get("components", {}).get("schemas", {})
    creatable = _creatable_kinds(data.get("paths", {}), group, version)
    kinds: dict[str, str] = {}
    for name, schema in schemas.items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            if (gvk.get("group"), gvk.get("version")) == (group, version) and gvk.get("kind") in creatable:
                kinds[gvk["kind"]] = name
    scopes = {kind: scope for kind, scope in creatable.items() if kind in kinds}
    return OpenApiDocument(schemas, kinds, scopes)


def _creatable_kinds(paths: Mapping[str, Any], group: str, version: str) -> dict[str, str]:
    """Map each kind that a POST operation of this group-version returns to its scope.

    A kind with any namespaced create path counts as namespaced. No kind in the
    Kubernetes v1.36.3 documents has both a namespaced and a cluster-scoped create path.
    """
    kinds: dict[str, str] = {}
    for path, operations in paths.items():
        for operation in operations.values():
            if not isinstance(operation, Mapping) or operation.get("x-kubernetes-action") != "post":
                continue
            gvk = operation.get("x-kubernetes-group-version-kind", {})
            if (gvk.get("group"), gvk.get("version")) != (group, version):
                continue
            kind = gvk.get("kind")
            if NAMESPACED_PATH_PART in path:
                kinds[kind] = NAMESPACED
            else:
                kinds.setdefault(kind, CLUSTER)
    return kinds
