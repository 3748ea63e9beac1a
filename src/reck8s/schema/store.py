"""SchemaStore: the schemas of built-in and custom kinds, and the validation entry point."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reck8s.schema.crd import CrdVersion, index_crd_file
from reck8s.schema.errors import SchemaLoadError, SchemaViolation
from reck8s.schema.names import select_name_rule
from reck8s.schema.openapi import (
    GROUP_VERSION_FILE,
    OBJECT_META,
    OpenApiDocument,
    Schema,
    load_openapi_document,
    openapi_file_name,
    split_api_version,
)
from reck8s.schema.validator import Mode, Validator


class SchemaStore:
    """Schemas of built-in kinds and of the kinds that the given CRD files define.

    Create one with ``SchemaStore.load``. A CRD version overrides a built-in kind
    with the same group, version and kind. When several CRD files define the same
    kind and version, the file that comes later in ``crd_files`` wins, as it would
    when the files are applied in that order. The query methods read schema files
    on first use and raise SchemaLoadError if such a file cannot be parsed.
    """

    def __init__(self, openapi_dir: Path) -> None:
        self._openapi_dir = openapi_dir
        self._openapi_documents: dict[str, OpenApiDocument | None] = {}
        self._metadata_document: OpenApiDocument | None = None
        self._crd_versions: dict[tuple[str, str, str], CrdVersion] = {}

    @classmethod
    def load(cls, openapi_dir: Path, crd_files: Sequence[Path]) -> SchemaStore:
        """Index the CRD files and return a store that reads built-in schemas on demand.

        Raises SchemaLoadError when the OpenAPI directory or a CRD file is missing,
        or when a CRD file is not valid YAML or contains an unsupported CRD.
        """
        openapi_dir = Path(openapi_dir)
        if not openapi_dir.is_dir():
            raise SchemaLoadError(
                f"Kubernetes OpenAPI directory not found: {openapi_dir}. "
                "It is api/openapi-spec/v3 inside the k8s.io/kubernetes Go module."
            )

        store = cls(openapi_dir)
        seen_files: set[Path] = set()
        for crd_file in crd_files:
            resolved = Path(crd_file).resolve()
            if resolved in seen_files:
                continue
            seen_files.add(resolved)
            for document in index_crd_file(Path(crd_file)):
                for version in document.versions:
                    store._crd_versions[(document.group, version.name, document.kind)] = version
        return store

    def knows(self, api_version: str, kind: str) -> bool:
        """Return whether a schema exists for this apiVersion and kind.

        Built-in kinds count only if the API server accepts them in a create
        request, so list kinds and option types such as DeleteOptions do not.
        """
        if self._find_crd_version(api_version, kind) is not None:
            return True
        document = self._openapi_document(api_version)
        return document is not None and kind in document.kinds

    def is_served(self, api_version: str, kind: str) -> bool:
        """Return whether the API server serves this version of the kind.

        For a CRD version this is its ``served`` flag. Every known built-in kind is served.
        """
        crd_version = self._find_crd_version(api_version, kind)
        if crd_version is not None:
            return crd_version.served
        return self.knows(api_version, kind)

    def is_deprecated(self, api_version: str, kind: str) -> str | None:
        """Return the deprecation warning of a CRD version, or None if it is not deprecated.

        Built-in kinds always return None because the OpenAPI documents do not mark deprecation.
        """
        crd_version = self._find_crd_version(api_version, kind)
        if crd_version is None:
            return None
        return crd_version.deprecation_warning

    def scope(self, api_version: str, kind: str) -> str | None:
        """Return "Namespaced" or "Cluster" for this apiVersion and kind, or None if the scope is unknown.

        A custom kind takes the ``spec.scope`` of its CRD, and the result is None
        when that field is missing or invalid. A built-in kind is namespaced when
        its create path in the OpenAPI document contains "/namespaces/{namespace}/".
        Kinds for which ``knows`` returns False give None.
        """
        crd_version = self._find_crd_version(api_version, kind)
        if crd_version is not None:
            return crd_version.document.scope
        document = self._openapi_document(api_version)
        if document is None:
            return None
        return document.scopes.get(kind)

    def validate(self, obj: Mapping) -> list[SchemaViolation]:
        """Validate a parsed manifest and return its violations in document order."""
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if not isinstance(api_version, str) or not api_version:
            return [SchemaViolation("apiVersion", 'missing required field "apiVersion"')]
        if not isinstance(kind, str) or not kind:
            return [SchemaViolation("kind", 'missing required field "kind"')]

        target = self._find_schema(api_version, kind)
        if target is None:
            message = f'no schema is known for apiVersion "{api_version}" and kind "{kind}"'
            return [SchemaViolation("", message + self._known_versions_hint(api_version, kind))]

        group, _ = split_api_version(api_version) or ("", "")
        validator = Validator(target.components, select_name_rule(group, kind))
        if obj.get("metadata") is None:
            validator.add("metadata", 'missing required field "metadata"')
        validator.check(obj, target.root, "", target.mode)
        return validator.violations

    def _find_schema(self, api_version: str, kind: str) -> _SchemaTarget | None:
        crd_version = self._find_crd_version(api_version, kind)
        if crd_version is not None:
            return _SchemaTarget(crd_version.root_schema(), self._metadata_components(), Mode.CUSTOM)

        document = self._openapi_document(api_version)
        if document is None or kind not in document.kinds:
            return None
        root = document.schemas[document.kinds[kind]]
        return _SchemaTarget(root, document.schemas, Mode.BUILTIN)

    def _find_crd_version(self, api_version: str, kind: str) -> CrdVersion | None:
        group_version = split_api_version(api_version)
        if group_version is None:
            return None
        group, version = group_version
        return self._crd_versions.get((group, version, kind))

    def _known_versions_hint(self, api_version: str, kind: str) -> str:
        group, _ = split_api_version(api_version) or ("", "")
        versions = sorted(
            version for (crd_group, version, crd_kind) in self._crd_versions
            if crd_group == group and crd_kind == kind
        )
        if not versions:
            return ""
        return f"; the CRD files define {kind} in versions {', '.join(versions)}"

    def _openapi_document(self, api_version: str) -> OpenApiDocument | None:
        group_version = split_api_version(api_version)
        if group_version is None:
            return None
        group, version = group_version
        file_name = openapi_file_name(group, version)
        if file_name not in self._openapi_documents:
            path = self._openapi_dir / file_name
            document = load_openapi_document(path, group, version) if path.is_file() else None
            self._openapi_documents[file_name] = document
        return self._openapi_documents[file_name]

    def _metadata_components(self) -> Mapping[str, Schema]:
        """Return the components of the smallest group-version file that defines ObjectMeta.

        Custom resources need ObjectMeta from the built-in documents because CRD
        schemas declare ``metadata`` as a bare object.
        """
        if self._metadata_document is None:
            self._metadata_document = self._find_metadata_document()
        return self._metadata_document.schemas

    def _find_metadata_document(self) -> OpenApiDocument:
        candidates = sorted(
            (path.stat().st_size, path.name, path)
            for path in self._openapi_dir.iterdir()
            if GROUP_VERSION_FILE.fullmatch(path.name)
        )
        for _, _, path in candidates:
            document = load_openapi_document(path, "", "")
            if OBJECT_META in document.schemas:
                return document
        raise SchemaLoadError(f"no OpenAPI document in {self._openapi_dir} defines {OBJECT_META}")


@dataclass(frozen=True)
class _SchemaTarget:
    root: Schema
    components: Mapping[str, Schema]
    mode: Mode
