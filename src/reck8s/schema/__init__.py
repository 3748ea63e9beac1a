"""Structural validation of Kubernetes objects against OpenAPI v3 and CRD schemas.

Built-in kinds use the per-group-version OpenAPI v3 documents that the Kubernetes
source tree ships under api/openapi-spec/v3. Custom resources use the
``openAPIV3Schema`` of each version in CustomResourceDefinition files. The checks
follow what a kube-apiserver with strict field validation rejects, as far as a
schema walk can tell: unknown fields, types, required fields, value limits,
duplicate list-map keys and object metadata syntax.

Both sources load lazily. A built-in group-version file is read the first time
an object of that group-version is looked up. CRD files are scanned at load time
for their group, kinds, scope and versions, and a CRD's schemas are built the
first time one of its kinds is validated.

The public API is re-exported here. The modules of the package are:

- ``store``: SchemaStore, which looks up kinds and runs validation.
- ``openapi``: loading of the built-in OpenAPI documents.
- ``crd``: scanning of CRD files and lazy parsing of their schemas.
- ``validator``: the structural walk of an object against a schema.
- ``composition``: messages for allOf, anyOf, oneOf and not.
- ``names``: object name, namespace, label and annotation checks.
- ``patterns``: Quantity, string formats and Go RE2 patterns.
- ``values``: JSON value tests and message formatting.
- ``errors``: SchemaViolation and SchemaLoadError.
"""

from reck8s.schema.errors import SchemaLoadError, SchemaViolation
from reck8s.schema.store import SchemaStore

__all__ = ["SchemaLoadError", "SchemaStore", "SchemaViolation"]
