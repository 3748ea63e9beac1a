"""Kustomize rules: transforms that silently do nothing, and transforms that break what they touch."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

from reck8s.i18n import t
from reck8s.model import Resource, Severity
from reck8s.rules import Context, Hit, rule

# Groups whose references kustomize rewrites when it renames an object; a
# generated name in any other group's fields keeps its old value.
BUILT_IN_GROUP = re.compile(r"^$|^(apps|batch|autoscaling|policy|extensions)$|\.k8s\.io$")
IMMUTABLE_SELECTOR_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job")
NAMESPACE_FIELDS = ("namespace", "namespaces", "exportTo", "notNamespaces")
NAMESPACED_NAME_FIELDS = ("gateways", "hosts", "exportTo")


def _full_match(pattern: str | None, value: str) -> bool:
    """Match a kustomize selector field: a regular expression that must match the whole value."""
    if not pattern:
        return True
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return pattern == value


def _label_selector_matches(selector: str | None, labels: dict[str, str]) -> bool:
    """Evaluate an equality-based label selector string such as `app=web,tier!=db,canary`."""
    if not selector:
        return True
    for requirement in selector.split(","):
        requirement = requirement.strip()
        if "!=" in requirement:
            key, value = requirement.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in requirement:
            key, value = requirement.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif requirement.startswith("!"):
            if requirement[1:] in labels:
                return False
        elif requirement and requirement not in labels:
            return False
    return True


def target_matches(target: dict[str, Any], resource: Resource) -> bool:
    group, _, version = resource.api_version.rpartition("/")
    if target.get("group") is not None and target["group"] != group:
        return False
    if target.get("version") and target["version"] != version:
        return False
    return (
        _full_match(target.get("kind"), resource.kind)
        and _full_match(target.get("name"), resource.name)
        and _full_match(target.get("namespace"), resource.namespace)
        and _label_selector_matches(target.get("labelSelector"), resource.labels)
        and _label_selector_matches(target.get("annotationSelector"), resource.annotations)
    )


def _describe_target(target: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in target.items())


@rule("kustomize-patch-unmatched", Severity.ERROR, "Every patch target in a kustomization matches at least one resource.")
def patch_unmatched(ctx: Context) -> Iterator[Hit]:
    if ctx.inputs is None:
        return
    for node in ctx.kustomizations:
        patches = [*node.entries("patches"), *node.entries("patchesJson6902")]
        if not any(isinstance(p, dict) and p.get("target") for p in patches):
            continue
        inputs = ctx.inputs.inputs(node)
        for index, patch in enumerate(patches):
            target = patch.get("target") if isinstance(patch, dict) else None
            if not target or any(target_matches(target, r) for r in inputs):
                continue
            near = _nearest_name(target, inputs)
            hint = t(" Did you mean {near!r}?", " 是否应为 {near!r}?").format(near=near) if near else ""
            yield Hit(
                node.as_resource(),
                t("patch {index} targets {target} and matched no resource, so kustomize leaves the output unchanged without an error.{hint}",
                  "patch {index} 的目标 {target} 没有匹配任何资源, kustomize 会静默地保持输出不变。{hint}").format(
                    index=index, target=_describe_target(target), hint=hint),
                t("Make the target's kind, name and namespace match a resource this kustomization receives, or remove the patch.",
                  "让目标的 kind、name 和 namespace 与该 kustomization 收到的资源一致, 或删除该 patch。"),
            )


def _nearest_name(target: dict[str, Any], inputs: list[Resource]) -> str | None:
    name = target.get("name")
    if not name:
        return None
    candidates = [r.name for r in inputs if not target.get("kind") or _full_match(target.get("kind"), r.kind)]
    best, score = None, 0
    for candidate in candidates:
        common = len(os.path.commonprefix([name, candidate]))
        if common > score:
            best, score = candidate, common
    return best if score >= 3 else None


def _image_name(image: str) -> str:
    """Return an image reference without its tag and digest."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name.rsplit(":", 1)[0]
    return name


def _images(resources: list[Resource]) -> set[str]:
    found = set()
    for resource in resources:
        found.update(_images_in(resource.obj))
    return found


def _images_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "image" and isinstance(value, str):
                yield _image_name(value)
            else:
                yield from _images_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from _images_in(item)


@rule("kustomize-image-unmatched", Severity.ERROR, "Every `images:` entry matches an image of a container it receives.")
def image_unmatched(ctx: Context) -> Iterator[Hit]:
    if ctx.inputs is None:
        return
    for node in ctx.kustomizations:
        entries = node.entries("images")
        if not entries:
            continue
        present = _images(ctx.inputs.inputs(node))
        for index, entry in enumerate(entries):
            name = entry.get("name") if isinstance(entry, dict) else None
            if not name or name in present:
                continue
            yield Hit(
                node.as_resource(),
                t("images[{index}] names {name!r}, which no container image matches (they are: {present}); the pin does nothing.",
                  "images[{index}] 指定的 {name!r} 不匹配任何容器镜像 (现有: {present}); 该固定不起作用。").format(
                    index=index, name=name, present=", ".join(sorted(present)) or "-"),
                t("Use the image name exactly as the containers write it, without tag or digest.",
                  "使用容器中写的镜像名 (不含标签和 digest)。"),
            )


@rule("kustomize-selector-labels", Severity.WARNING, "Label transformers leave selectors alone.")
def selector_labels(ctx: Context) -> Iterator[Hit]:
    for node in ctx.kustomizations:
        problems = []
        if node.document.get("commonLabels"):
            problems.append(t("commonLabels {labels} (deprecated)", "commonLabels {labels} (已弃用)").format(
                labels=node.document["commonLabels"]))
        for entry in node.entries("labels"):
            if isinstance(entry, dict) and entry.get("includeSelectors"):
                problems.append(t("labels {pairs} with includeSelectors: true", "labels {pairs} 且 includeSelectors: true").format(
                    pairs=entry.get("pairs")))
        if problems:
            yield Hit(
                node.as_resource(),
                t("{problems} adds labels to selectors. Workload selectors are immutable, so applying over existing objects fails, and changing the labels later orphans the running pods.",
                  "{problems} 会把标签加入选择器。工作负载的选择器不可变, 在已有对象上 apply 会失败, 以后修改这些标签会使运行中的 Pod 成为孤儿。").format(
                    problems="; ".join(problems)),
                t("Use `labels:` with includeSelectors: false (and includeTemplates: false unless the pods need them).",
                  "改用 `labels:` 并设置 includeSelectors: false (除非 Pod 需要, 否则同时设置 includeTemplates: false)。"),
            )


def _strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _strings(item, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


@rule("kustomize-generated-name", Severity.ERROR, "Custom resources use the hashed name of a generated ConfigMap or Secret.")
def generated_name(ctx: Context) -> Iterator[Hit]:
    from reck8s.kustomization import generator_names

    names = generator_names(ctx.kustomizations)
    if not names:
        return
    hashed: dict[tuple[str, str], str] = {}
    for resource in ctx.of_kind("ConfigMap", "Secret"):
        for name in names:
            if re.fullmatch(rf"{re.escape(name)}-[a-z0-9]{{10}}", resource.name):
                hashed[(resource.namespace, name)] = resource.name
    for resource in ctx.resources:
        if BUILT_IN_GROUP.search(resource.group) or resource.kind in ("ConfigMap", "Secret"):
            continue
        for path, value in _strings(resource.obj.get("spec") or {}, "spec"):
            generated = hashed.get((resource.namespace, value))
            if generated:
                yield Hit(
                    resource,
                    t("{path} names {value!r}, but the generator renamed it to {generated!r}; kustomize rewrites references only in fields it knows, so this one points at nothing.",
                      "{path} 指向 {value!r}, 但生成器已把它重命名为 {generated!r}; kustomize 只改写它认识的字段中的引用, 所以这里指向不存在的对象。").format(
                        path=path, value=value, generated=generated),
                    t("Teach kustomize the field with a `configurations:` nameReference entry, or set options.disableNameSuffixHash: true on that generator.",
                      "用 `configurations:` 中的 nameReference 条目让 kustomize 认识该字段, 或在该生成器上设置 options.disableNameSuffixHash: true。"),
                )


def _names_namespace(value: str, leaf: str, namespace: str) -> bool:
    """Tell whether a string value refers to `namespace`, by the forms Kubernetes and Istio use."""
    quoted = re.escape(namespace)
    # A Service DNS name (name.NS.svc...) or a SPIFFE principal (.../ns/NS/sa/...).
    if re.search(rf"\.{quoted}\.svc(\.|$|:)|/ns/{quoted}/", value):
        return True
    # Istio's NS/NAME form, only in the fields that take it.
    if leaf in NAMESPACED_NAME_FIELDS and value.startswith(namespace + "/"):
        return True
    return leaf in NAMESPACE_FIELDS and value == namespace


def _old_namespaces(ctx: Context) -> dict[str, str]:
    """Return each namespace that a `namespace:` transform replaced, mapped to its replacement."""
    replaced: dict[str, str] = {}
    if ctx.inputs is None:
        return replaced
    for node in ctx.kustomizations:
        new = node.document.get("namespace")
        if not new:
            continue
        for resource in ctx.inputs.inputs(node):
            old = resource.name if resource.kind == "Namespace" else resource.namespace
            if old and old != new:
                replaced[old] = new
    return replaced


@rule("namespace-stale-reference", Severity.ERROR, "No string still names the namespace that a `namespace:` transform replaced.")
def stale_namespace(ctx: Context) -> Iterator[Hit]:
    replaced = _old_namespaces(ctx)
    if not replaced:
        return
    for resource in ctx.resources:
        for path, value in _strings(resource.obj):
            if path.startswith("metadata.") and not path.startswith("metadata.annotations"):
                continue
            leaf = path.rsplit(".", 1)[-1].split("[")[0]
            for old in replaced:
                if _names_namespace(value, leaf, old):
                    yield Hit(
                        resource,
                        t("{path} is {value!r}, which still names namespace {old}; the overlay moved everything to {new}.",
                          "{path} 的值为 {value!r}, 仍指向命名空间 {old}; overlay 已把所有对象移到 {new}。").format(
                            path=path, value=value, old=old, new=replaced[old]),
                        t("Derive the value from the Namespace with a `replacements:` entry, or use a short name that needs no namespace.",
                          "用 `replacements:` 从 Namespace 推导该值, 或使用不需要命名空间的短名称。"),
                    )


@rule("selector-changed", Severity.ERROR, "A workload's selector is unchanged from the earlier version (`check --against`).")
def selector_changed(ctx: Context) -> Iterator[Hit]:
    if ctx.previous is None:
        return
    for resource in ctx.of_kind(*IMMUTABLE_SELECTOR_KINDS):
        earlier = ctx.previous.get((resource.kind, resource.namespace, resource.name))
        if earlier is None:
            continue
        before = (earlier.get("spec") or {}).get("selector")
        after = resource.spec.get("selector")
        if resource.kind == "Job":
            # The API server generates a Job's selector unless manualSelector is set.
            if not resource.spec.get("manualSelector"):
                continue
        if _normalized(before) != _normalized(after):
            yield Hit(
                resource,
                t("spec.selector changes from {before} in {source} to {after}; selectors are immutable, so the apply is rejected.",
                  "spec.selector 从 {source} 中的 {before} 变为 {after}; 选择器不可变, apply 会被拒绝。").format(
                    before=before, after=after, source=ctx.previous_source),
                t("Keep the selector as it was (put new labels in metadata and the pod template only), or delete and recreate the workload in a planned change.",
                  "保持选择器不变 (新标签只加到 metadata 和 Pod 模板), 或在计划内的变更中删除并重建该工作负载。"),
            )


def _normalized(selector: Any) -> Any:
    if not isinstance(selector, dict):
        return selector
    labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    return (sorted(labels.items()), sorted(str(e) for e in expressions))
