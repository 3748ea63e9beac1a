"""Schema rules: every object matches the OpenAPI schema of its kind."""
from __future__ import annotations

from collections.abc import Iterator

from reck8s.i18n import t
from reck8s.model import Severity
from reck8s.rules import Context, Hit, rule


@rule("schema-invalid", Severity.ERROR, "The object does not match the schema of its kind.")
def schema_invalid(ctx: Context) -> Iterator[Hit]:
    if ctx.schemas is None:
        return
    for resource in ctx.resources:
        if not ctx.schemas.knows(resource.api_version, resource.kind):
            continue
        for violation in ctx.schemas.validate(resource.obj):
            where = violation.path or "(root)"
            yield Hit(
                resource,
                t("{path}: {message}", "{path}: {message}").format(path=where, message=violation.message),
                t(
                    "Correct {path} to match the {kind} schema of {api} (the API server would reject it).",
                    "按照 {api} 的 {kind} schema 修正 {path} (API server 会拒绝该对象)。",
                ).format(path=where, kind=resource.kind, api=resource.api_version),
            )


@rule("schema-unknown-kind", Severity.ERROR, "No schema is known for the object's apiVersion and kind.")
def schema_unknown_kind(ctx: Context) -> Iterator[Hit]:
    if ctx.schemas is None:
        return
    for resource in ctx.resources:
        if ctx.schemas.knows(resource.api_version, resource.kind):
            continue
        yield Hit(
            resource,
            t(
                "no schema is known for {kind} in {api}: the API version is wrong, removed, or its CRD is not pinned.",
                "找不到 {api} 中 {kind} 的 schema: API 版本错误、已移除, 或其 CRD 未固定版本。",
            ).format(kind=resource.kind, api=resource.api_version),
            t(
                "Use a served API version, or add the CRD's Go module to tools/schemas.yaml and run `make setup`.",
                "改用仍在提供的 API 版本, 或把该 CRD 的 Go 模块加入 tools/schemas.yaml 并运行 `make setup`。",
            ),
        )
