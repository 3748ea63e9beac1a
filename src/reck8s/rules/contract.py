"""Contract rules: the environment's namespace and the service ports in devops/interfaces.yaml."""
from __future__ import annotations

from collections.abc import Iterator

from reck8s.i18n import t
from reck8s.model import Resource, Severity
from reck8s.rules import Context, Hit, rule

ENFORCE = "pod-security.kubernetes.io/enforce"
WARN = "pod-security.kubernetes.io/warn"
AUDIT = "pod-security.kubernetes.io/audit"


def environment_namespace(ctx: Context) -> str | None:
    """Return the namespace the contract gives this environment: the one ending in `-ENV`."""
    if ctx.environment is None or ctx.contract is None:
        return None
    for namespace in ctx.contract.get("namespaces", []):
        if namespace.endswith(f"-{ctx.environment}"):
            return namespace
    return None


@rule("contract-namespace", Severity.ERROR, "Every namespaced object lands in the environment's contract namespace.")
def contract_namespace(ctx: Context) -> Iterator[Hit]:
    if ctx.environment is None or ctx.contract is None:
        return
    expected = environment_namespace(ctx)
    if expected is None:
        listed = ", ".join(ctx.contract.get("namespaces", []))
        anchor = ctx.resources[0] if ctx.resources else Resource({"kind": "Kustomization", "metadata": {"name": ctx.environment}})
        yield Hit(
            anchor,
            t(
                "devops/interfaces.yaml names no namespace for environment {env} (it lists: {listed}).",
                "devops/interfaces.yaml 中没有环境 {env} 的命名空间 (已列出: {listed})。",
            ).format(env=ctx.environment, listed=listed),
            t(
                "Add `recommend-{env}` to kubernetes.namespaces in devops/interfaces.yaml, or rename the overlay.",
                "在 devops/interfaces.yaml 的 kubernetes.namespaces 中加入 `recommend-{env}`, 或重命名该 overlay。",
            ).format(env=ctx.environment),
        )
        return

    for resource in ctx.resources:
        namespaced = ctx.is_namespaced(resource)
        if namespaced and resource.namespace != expected:
            yield Hit(
                resource,
                t("is in namespace {actual!r}, not {expected}.", "位于命名空间 {actual!r}, 而不是 {expected}。").format(
                    actual=resource.namespace, expected=expected),
                t("Let the overlay's `namespace: {expected}` set it; remove any hard-coded namespace.",
                  "由 overlay 的 `namespace: {expected}` 统一设置; 删除写死的命名空间。").format(expected=expected),
            )
        if not namespaced and resource.namespace:
            yield Hit(
                resource,
                t("is cluster-scoped but carries namespace {ns}.", "是集群级对象, 却带有命名空间 {ns}。").format(ns=resource.namespace),
                t("Use a namespaced kind, or move the object out of the overlay that sets `namespace:`.",
                  "改用命名空间级的类型, 或把它移出设置了 `namespace:` 的 overlay。"),
            )

    if ctx.find("Namespace", expected, "") is None:
        anchor = ctx.resources[0] if ctx.resources else Resource({"kind": "Namespace", "metadata": {"name": expected}})
        yield Hit(
            anchor,
            t("the render contains no Namespace {ns}.", "渲染结果中没有 Namespace {ns}。").format(ns=expected),
            t("Include base/namespace.yaml so the namespace and its Pod Security labels are applied with the workloads.",
              "引入 base/namespace.yaml, 让命名空间及其 Pod Security 标签与工作负载一起应用。"),
        )


@rule("namespace-security-labels", Severity.ERROR, "Namespaces enforce Pod Security `restricted` and enable Istio injection.")
def namespace_security_labels(ctx: Context) -> Iterator[Hit]:
    for namespace in ctx.of_kind("Namespace"):
        labels = namespace.labels
        enforced = labels.get(ENFORCE) == "restricted"
        observed = labels.get(WARN) == "restricted" and labels.get(AUDIT) == "restricted"
        if not enforced and not observed:
            yield Hit(
                namespace,
                t("neither enforces Pod Security `restricted` nor warns and audits at it.",
                  "既未强制 Pod Security `restricted`, 也未在该级别警告和审计。"),
                t("Set the label {enforce}: restricted (or at least {warn} and {audit}: restricted).",
                  "设置标签 {enforce}: restricted (至少设置 {warn} 和 {audit}: restricted)。").format(
                    enforce=ENFORCE, warn=WARN, audit=AUDIT),
            )
        if labels.get("istio-injection") != "enabled" and "istio.io/rev" not in labels:
            yield Hit(
                namespace,
                t("has no Istio sidecar injection, so mTLS and the routing rules do not apply to its pods.",
                  "未启用 Istio sidecar 注入, 其 Pod 不受 mTLS 和路由规则约束。"),
                t("Set the label istio-injection: enabled.", "设置标签 istio-injection: enabled。"),
            )


@rule("contract-service-ports", Severity.ERROR, "Each contract Service exposes exactly the named ports of devops/interfaces.yaml.")
def contract_service_ports(ctx: Context) -> Iterator[Hit]:
    if ctx.contract is None or ctx.environment is None:
        return
    namespace = environment_namespace(ctx) or ""
    for name, ports in (ctx.contract.get("services") or {}).items():
        service = ctx.find("Service", name, namespace)
        if service is None:
            anchor = Resource({"kind": "Service", "metadata": {"name": name, "namespace": namespace}}, "devops/interfaces.yaml")
            yield Hit(
                anchor,
                t("the contract requires Service {name}, but the render has none.", "契约要求 Service {name}, 但渲染结果中没有。").format(name=name),
                t("Add Service {name} with ports {ports}.", "添加 Service {name}, 端口为 {ports}。").format(name=name, ports=ports),
            )
            continue
        actual = {p.get("name"): p.get("port") for p in service.spec.get("ports") or []}
        if actual != dict(ports):
            yield Hit(
                service,
                t("exposes ports {actual}, but devops/interfaces.yaml states {expected}.",
                  "暴露的端口为 {actual}, 但 devops/interfaces.yaml 规定为 {expected}。").format(actual=actual, expected=dict(ports)),
                t("Make the Service's port names and numbers match the contract exactly, or change the contract with its callers.",
                  "让 Service 的端口名称和端口号与契约完全一致, 或与调用方协商后修改契约。"),
            )
