"""Istio security rules: authorization rules, kubelet probes under mTLS, and gateway credentials."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from reck8s.i18n import t
from reck8s.model import Resource, Severity
from reck8s.rules import Context, Hit, Workload, labels_match, rule
from reck8s.rules.references import secret_producers

# The default root namespace of the mesh. Its PeerAuthentications and
# AuthorizationPolicies without a selector apply to every workload.
ROOT_NAMESPACE = "istio-system"
INJECT = "sidecar.istio.io/inject"
REWRITE_PROBES = "sidecar.istio.io/rewriteAppHTTPProbers"
EXCLUDE_INBOUND = "traffic.sidecar.istio.io/excludeInboundPorts"
INCLUDE_INBOUND = "traffic.sidecar.istio.io/includeInboundPorts"
# The selector of the ingress gateway that Istio's default profile installs in istio-system.
SHARED_GATEWAY = {"istio": "ingressgateway"}
PROBE_KINDS = ("startupProbe", "readinessProbe", "livenessProbe")
# Source fields that only a request with a mesh identity (mTLS peer) or a JWT can match.
IDENTITY_FIELDS = ("principals", "namespaces", "requestPrincipals")


def _is_istio(resource: Resource, group: str) -> bool:
    return resource.group == group


def _template_annotations(workload: Workload) -> dict[str, str]:
    return (workload.template.get("metadata") or {}).get("annotations") or {}


def sidecar_injection(ctx: Context, workload: Workload) -> bool | None:
    """Return whether Istio injects a sidecar into the workload's pods, or None if the render does not show it.

    Follows Istio's injection labels: the pod label `sidecar.istio.io/inject`
    decides first, then the namespace's `istio-injection` label, then an
    `istio.io/rev` label on the namespace or the pod. The deprecated pod
    annotation of the same name can only opt out, because the webhook is not
    called for a pod that only carries the annotation.
    """
    labels = workload.pod_labels
    annotations = _template_annotations(workload)
    if labels.get(INJECT) in ("true", "false"):
        return labels[INJECT] == "true"
    if annotations.get(INJECT) == "false":
        return False
    namespace = ctx.find("Namespace", workload.resource.namespace, "")
    namespace_labels = namespace.labels if namespace is not None else {}
    if namespace_labels.get("istio-injection") in ("enabled", "disabled"):
        return namespace_labels["istio-injection"] == "enabled"
    if "istio.io/rev" in namespace_labels or "istio.io/rev" in labels:
        return True
    if namespace is None:
        return None
    return False


# istio-authz-split-rule


def _rule_shape(rule_: dict[str, Any]) -> str | None:
    keys = {key for key in ("from", "to", "when") if rule_.get(key)}
    if keys == {"from"}:
        return "from"
    if keys == {"to"}:
        return "to"
    return None


def _rule_refs(indexes: list[int]) -> str:
    return ", ".join(f"rules[{i}]" for i in indexes)


@rule("istio-authz-split-rule", Severity.WARNING,
      "An AuthorizationPolicy does not split one rule into a `from`-only rule and a `to`-only rule.")
def authz_split_rule(ctx: Context) -> Iterator[Hit]:
    for policy in ctx.of_kind("AuthorizationPolicy"):
        if not _is_istio(policy, "security.istio.io"):
            continue
        action = policy.spec.get("action", "ALLOW")
        if action not in ("ALLOW", "DENY"):
            continue
        rules = policy.spec.get("rules") or []
        sources = [i for i, r in enumerate(rules) if _rule_shape(r) == "from"]
        operations = [i for i, r in enumerate(rules) if _rule_shape(r) == "to"]
        if not sources or not operations:
            continue
        if action == "ALLOW":
            effect = t("the `from`-only rules allow their sources to call every port and path, and the `to`-only rules "
                       "allow any caller, from outside the mesh too, to reach their operations",
                       "只有 `from` 的规则允许其来源访问所有端口和路径, 只有 `to` 的规则允许任何调用方 (包括网格外) 访问其操作")
        else:
            effect = t("the `from`-only rules deny every request from their sources, and the `to`-only rules deny every "
                       "request to their operations, whoever sends it",
                       "只有 `from` 的规则拒绝来自其来源的所有请求, 只有 `to` 的规则拒绝发往其操作的所有请求, 无论调用方是谁")
        yield Hit(
            policy,
            t("this {action} policy has `from`-only rules ({sources}) and `to`-only rules ({operations}). Rules are ORed, "
              "so {effect}; this was almost certainly meant as one rule with both.",
              "该 {action} 策略既有只含 `from` 的规则 ({sources}), 又有只含 `to` 的规则 ({operations})。规则之间是 OR 关系, "
              "因此{effect}; 这几乎肯定本应是同时带有两者的一条规则。").format(
                action=action, sources=_rule_refs(sources), operations=_rule_refs(operations), effect=effect),
            t("Merge {sources} and {operations} into one rule with both `from` and `to`, so a request must match both.",
              "把 {sources} 和 {operations} 合并为一条同时带有 `from` 和 `to` 的规则, 使请求必须同时匹配两者。").format(
                sources=_rule_refs(sources), operations=_rule_refs(operations)),
        )


# istio-probe-mtls


def _selects(resource: Resource, workload: Workload) -> bool:
    """Return whether a PeerAuthentication or AuthorizationPolicy applies to the workload's pods."""
    if resource.spec.get("targetRef") or resource.spec.get("targetRefs"):
        return False  # Bound to a waypoint or a gateway, not to sidecars.
    labels = (resource.spec.get("selector") or {}).get("matchLabels") or {}
    if labels:
        return resource.namespace == workload.resource.namespace and labels_match(labels, workload.pod_labels)
    return resource.namespace in (workload.resource.namespace, ROOT_NAMESPACE)


def _mtls_mode(ctx: Context, workload: Workload, port: int | None) -> tuple[str, Resource | None]:
    """Return the effective PeerAuthentication mode for a port of the workload, and the policy that sets it.

    Istio takes the most specific policy whose mode is not UNSET: a port-level
    mode of a workload policy, then the workload policy, then the namespace
    policy, then the root namespace policy. The default is PERMISSIVE.
    """
    policies = [p for p in ctx.of_kind("PeerAuthentication") if _is_istio(p, "security.istio.io") and _selects(p, workload)]
    workload_level = [p for p in policies if (p.spec.get("selector") or {}).get("matchLabels")]
    namespace_level = [p for p in policies if p not in workload_level and p.namespace == workload.resource.namespace]
    root_level = [p for p in policies if p not in workload_level and p.namespace == ROOT_NAMESPACE]
    candidates: list[tuple[Resource, dict[str, Any]]] = []
    for policy in workload_level:
        port_modes = {str(k): v for k, v in (policy.spec.get("portLevelMtls") or {}).items()}
        if port is not None and str(port) in port_modes:
            candidates.append((policy, port_modes[str(port)] or {}))
        candidates.append((policy, policy.spec.get("mtls") or {}))
    for policy in namespace_level + root_level:
        candidates.append((policy, policy.spec.get("mtls") or {}))
    for policy, mtls in candidates:
        mode = mtls.get("mode", "UNSET")
        if mode != "UNSET":
            return mode, policy
    return "PERMISSIVE", None


def _rule_may_admit(rule_: dict[str, Any], port: int | None) -> bool:
    """Return whether an ALLOW rule could match a plain-text request with no identity, such as a kubelet probe."""
    sources = rule_.get("from") or []
    if sources and all(
        any((entry.get("source") or {}).get(field) for field in IDENTITY_FIELDS) for entry in sources
    ):
        return False
    operations = [entry.get("operation") or {} for entry in rule_.get("to") or []]
    if not operations or port is None:
        return True
    for operation in operations:
        ports = [str(p) for p in operation.get("ports") or []]
        excluded = [str(p) for p in operation.get("notPorts") or []]
        if ports and str(port) not in ports:
            continue
        if str(port) in excluded:
            continue
        return True
    return False


def _denying_policies(ctx: Context, workload: Workload, port: int | None) -> list[Resource]:
    """Return the ALLOW AuthorizationPolicies that select the workload when none of their rules admits a probe.

    With at least one ALLOW policy on a workload, Istio denies every request
    that no rule of those policies matches.
    """
    policies = [
        p for p in ctx.of_kind("AuthorizationPolicy")
        if _is_istio(p, "security.istio.io") and p.spec.get("action", "ALLOW") == "ALLOW" and _selects(p, workload)
    ]
    if any(_rule_may_admit(r, port) for p in policies for r in p.spec.get("rules") or []):
        return []
    return policies


def _probe_port(probe: dict[str, Any], container: dict[str, Any]) -> tuple[str, int | None] | None:
    """Return the probe's handler (httpGet or grpc) and its port number, or None for exec and tcpSocket probes."""
    for handler in ("httpGet", "grpc"):
        if handler not in probe:
            continue
        port = (probe[handler] or {}).get("port")
        if isinstance(port, str) and not port.isdigit():
            named = [p.get("containerPort") for p in container.get("ports") or [] if p.get("name") == port]
            return handler, named[0] if named else None
        return handler, int(port) if port is not None else None
    return None


def _ports_annotation(value: str | None) -> set[str]:
    return {part.strip() for part in (value or "").split(",") if part.strip()}


def _intercepted(annotations: dict[str, str], port: int | None) -> bool:
    """Return whether the sidecar intercepts inbound traffic on the port, as the traffic annotations set it.

    Without includeInboundPorts the sidecar intercepts every port, and an
    empty includeInboundPorts intercepts none.
    """
    if port is None:
        return True
    if str(port) in _ports_annotation(annotations.get(EXCLUDE_INBOUND)):
        return False
    if INCLUDE_INBOUND not in annotations:
        return True
    included = _ports_annotation(annotations[INCLUDE_INBOUND])
    return "*" in included or str(port) in included


def _probe_problems(ctx: Context, workload: Workload) -> tuple[list[str], list[str]]:
    """Return the probes that the mesh rejects, and why, as two lists of descriptions."""
    annotations = _template_annotations(workload)
    probes: list[str] = []
    reasons: list[str] = []
    containers = workload.pod_spec.get("containers") or []
    native_sidecars = [c for c in workload.pod_spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    for container in native_sidecars + containers:
        for kind in PROBE_KINDS:
            probe = container.get(kind)
            handler_port = _probe_port(probe, container) if probe else None
            if handler_port is None:
                continue
            handler, port = handler_port
            if not _intercepted(annotations, port):
                continue
            blocked_by = []
            mode, peer = _mtls_mode(ctx, workload, port)
            if mode == "STRICT":
                blocked_by.append(t("{ref} requires mtls STRICT", "{ref} 要求 mtls STRICT").format(
                    ref=peer.ref() if peer else "PeerAuthentication"))
            for policy in _denying_policies(ctx, workload, port):
                blocked_by.append(t("no rule of ALLOW {ref} matches a request without a mesh identity",
                                    "ALLOW {ref} 没有规则匹配不带网格身份的请求").format(ref=policy.ref()))
            if not blocked_by:
                continue
            probes.append(t("the {kind} of container {name!r} ({handler}, port {port})",
                            "容器 {name!r} 的 {kind} ({handler}, 端口 {port})").format(
                name=container.get("name"), kind=kind, handler=handler, port=port if port is not None else "?"))
            reasons.extend(reason for reason in blocked_by if reason not in reasons)
    return probes, reasons


@rule("istio-probe-mtls", Severity.ERROR,
      "HTTP and gRPC probes of a pod under mTLS STRICT or an ALLOW policy are rewritten by the sidecar.")
def probe_mtls(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads():
        if str(_template_annotations(workload).get(REWRITE_PROBES, "")).lower() != "false":
            continue
        if sidecar_injection(ctx, workload) is False:
            continue
        probes, reasons = _probe_problems(ctx, workload)
        if not probes:
            continue
        yield Hit(
            workload.resource,
            t("the pod template sets {a}: \"false\", so the kubelet sends these probes in plain text from outside "
              "the mesh: {probes}. The sidecar rejects them because {reasons}. The pods never become ready, and a "
              "failing liveness or startup probe restarts them.",
              "Pod 模板设置了 {a}: \"false\", kubelet 会从网格外以明文发送这些探针: {probes}。sidecar 会拒绝它们, "
              "因为 {reasons}。Pod 永远不会就绪, 失败的 liveness 或 startup 探针还会重启它们。").format(
                a=REWRITE_PROBES, probes=", ".join(probes), reasons=t(" and ", " 且 ").join(reasons)),
            t("Remove the annotation {a} so Istio rewrites HTTP and gRPC probes to the sidecar's status port "
              "(the default), or change these probes to exec.",
              "删除注解 {a}, 让 Istio 把 HTTP 和 gRPC 探针改写到 sidecar 的状态端口 (默认行为), 或把这些探针改为 exec。").format(
                a=REWRITE_PROBES),
        )


# istio-gateway-credential


def _credential_names(server: dict[str, Any]) -> list[str]:
    tls = server.get("tls") or {}
    names = [tls["credentialName"]] if tls.get("credentialName") else []
    names.extend(tls.get("credentialNames") or [])
    # A name with a scheme (kubernetes-gateway://NAMESPACE/NAME) names its namespace itself.
    return [name for name in names if "://" not in name]


def _labels_text(labels: dict[str, str]) -> str:
    return ", ".join(f"{key}: {value}" for key, value in sorted(labels.items()))


def _producer_namespaces(ctx: Context, name: str) -> set[str]:
    namespaces = {r.namespace for r in ctx.of_kind("Secret", "ExternalSecret", "Certificate") if r.namespace}
    return {namespace for namespace in namespaces if name in secret_producers(ctx, namespace)}


@rule("istio-gateway-credential", Severity.ERROR,
      "An Istio Gateway's credentialName is written in the namespace where its gateway pods run.")
def gateway_credential(ctx: Context) -> Iterator[Hit]:
    for gateway in ctx.of_kind("Gateway"):
        if not _is_istio(gateway, "networking.istio.io"):
            continue
        selector = gateway.spec.get("selector") or {}
        if not selector:
            continue
        # Istio matches a Gateway's selector against gateway pods in every namespace by default.
        pods = [w for w in ctx.workloads() if labels_match(selector, w.pod_labels)]
        pod_namespaces = sorted({w.resource.namespace for w in pods})
        for index, server in enumerate(gateway.spec.get("servers") or []):
            for name in _credential_names(server):
                produced_in = _producer_namespaces(ctx, name)
                hit = _credential_hit(gateway, index, name, selector, pods, pod_namespaces, produced_in)
                if hit is not None:
                    yield hit


def _credential_hit(
    gateway: Resource,
    index: int,
    name: str,
    selector: dict[str, str],
    pods: list[Workload],
    pod_namespaces: list[str],
    produced_in: set[str],
) -> Hit | None:
    if pod_namespaces:
        lacking = [namespace for namespace in pod_namespaces if namespace not in produced_in]
        if not lacking:
            return None
        if produced_in:
            where = t(" It is written only in {namespaces}.", " 它只在 {namespaces} 中被写入。").format(
                namespaces=", ".join(sorted(produced_in)))
            fix = t("Write Secret {name} in namespace {lacking}, where the gateway pods run: move its Certificate or "
                    "ExternalSecret there.",
                    "在网关 Pod 运行的命名空间 {lacking} 中写入 Secret {name}: 把它的 Certificate 或 ExternalSecret 移到那里。")
        else:
            where = t(" No Secret, Certificate or ExternalSecret in the render writes it.",
                      " 渲染结果中没有 Secret、Certificate 或 ExternalSecret 写入它。")
            fix = t("Add a Certificate or ExternalSecret that writes Secret {name} in namespace {lacking}, or correct "
                    "the credentialName.",
                    "在命名空间 {lacking} 中添加写入 Secret {name} 的 Certificate 或 ExternalSecret, 或修正 credentialName。")
        return Hit(
            gateway,
            t("servers[{index}] uses credentialName {name!r}, which Istio reads from the namespace of the gateway pods "
              "that the selector ({selector}) picks ({pods}), but namespace {lacking} has no such Secret; the server cannot "
              "serve TLS.{where}",
              "servers[{index}] 使用 credentialName {name!r}, Istio 从选择器 {selector} 选中的网关 Pod ({pods}) 所在的"
              "命名空间读取它, 但命名空间 {lacking} 中没有该 Secret; 该 server 无法提供 TLS。{where}").format(
                index=index, name=name, selector=_labels_text(selector), pods=", ".join(w.resource.ref() for w in pods),
                lacking=", ".join(lacking), where=where),
            fix.format(name=name, lacking=", ".join(lacking)),
        )
    if produced_in != {gateway.namespace}:
        # The platform writes it, or several namespaces do, so the render cannot show which one the gateway reads.
        return None
    shared = ""
    if selector == SHARED_GATEWAY:
        shared = t(" (istio-system for the shared istio: ingressgateway)", " (共享的 istio: ingressgateway 在 istio-system)")
    return Hit(
        gateway,
        t("servers[{index}] uses credentialName {name!r}, which is written only in namespace {namespace}, but the selector "
          "({selector}) matches no pod template in {namespace}. Istio reads the credential from the namespace of the "
          "gateway pods{shared}, so the server cannot serve TLS.",
          "servers[{index}] 使用 credentialName {name!r}, 它只在命名空间 {namespace} 中被写入, 但选择器 {selector} "
          "在 {namespace} 中不匹配任何 Pod 模板。Istio 从网关 Pod 所在的命名空间读取凭据{shared}, 因此该 server 无法提供 TLS。"
          ).format(index=index, name=name, namespace=gateway.namespace, selector=_labels_text(selector), shared=shared),
        t("Write the Secret in the namespace of the gateway pods (for example, create the Certificate there with "
          "secretName {name}), or select a gateway Deployment that runs in namespace {namespace}.",
          "在网关 Pod 所在的命名空间写入该 Secret (例如在那里创建 secretName 为 {name} 的 Certificate), "
          "或选择运行在命名空间 {namespace} 中的网关 Deployment。").format(name=name, namespace=gateway.namespace),
    )


# The injected istio-proxy's requests, which hpa-resource-request checks.

PROXY_ANNOTATIONS = {
    # resource: (request annotation, limit annotation)
    "cpu": ("sidecar.istio.io/proxyCPU", "sidecar.istio.io/proxyCPULimit"),
    "memory": ("sidecar.istio.io/proxyMemory", "sidecar.istio.io/proxyMemoryLimit"),
}
QUANTITY = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE][+-]?\d+|[a-zA-Z]{0,2})")


def _is_zero_quantity(value: str) -> bool:
    match = QUANTITY.fullmatch(value.strip())
    return match is not None and float(match.group(1)) == 0


def proxy_request_problem(workload: Workload, resource: str) -> tuple[str, str, Severity] | None:
    """Return (message, fix, severity) when the injected istio-proxy will lack a real request for `resource`.

    Istio's injection template (istio-discovery files/injection-template.yaml)
    writes the mesh's default proxy resources only when the pod sets none of
    the four sidecar.istio.io/proxy{CPU,Memory}{,Limit} annotations. Once one
    is set, each request comes from its own annotation, or from the matching
    limit annotation, which the API server copies into a missing request.
    """
    if resource not in PROXY_ANNOTATIONS:
        return None
    annotations = _template_annotations(workload)
    present = sorted(key for pair in PROXY_ANNOTATIONS.values() for key in pair if key in annotations)
    if not present:
        return None
    request_key, limit_key = PROXY_ANNOTATIONS[resource]
    fix = t("Set {key} on the pod template of {workload} to the proxy's real {resource} need (for example \"100m\" "
            "for cpu, \"128Mi\" for memory).",
            "在 {workload} 的 Pod 模板上把 {key} 设为代理实际需要的 {resource} (例如 cpu 用 \"100m\", memory 用 \"128Mi\")。"
            ).format(key=request_key, workload=workload.resource.ref(), resource=resource)
    if request_key in annotations:
        value = str(annotations[request_key])
        if not value.strip():
            return (t("scales on {resource} utilization, but the pod template sets {key} to an empty value, which is "
                      "not a valid quantity, so the injector cannot give the istio-proxy container a {resource} request.",
                      "按 {resource} 利用率伸缩, 但 Pod 模板把 {key} 设为空值, 它不是合法的数量, 注入器无法为 istio-proxy "
                      "容器设置 {resource} 请求。").format(resource=resource, key=request_key), fix, Severity.ERROR)
        if _is_zero_quantity(value):
            return (t("scales on {resource} utilization, but the pod template sets {key}: \"{value}\", so the istio-proxy "
                      "container requests no {resource}; its usage still counts, which inflates the utilization and "
                      "scales out early.",
                      "按 {resource} 利用率伸缩, 但 Pod 模板设置了 {key}: \"{value}\", istio-proxy 容器不请求 {resource}; "
                      "它的用量仍计入利用率, 使利用率偏高并过早扩容。").format(resource=resource, key=request_key, value=value),
                    fix, Severity.WARNING)
        return None
    if str(annotations.get(limit_key, "")).strip():
        return None
    return (t("scales on {resource} utilization, but the pod template sets {present} without {key}, so Istio's injection "
              "template drops the proxy's default requests and the istio-proxy container requests no {resource}; the "
              "metric cannot be computed.",
              "按 {resource} 利用率伸缩, 但 Pod 模板设置了 {present} 却没有 {key}, Istio 的注入模板因此不再使用代理的默认"
              "请求, istio-proxy 容器没有 {resource} 请求; 无法计算该指标。").format(
                resource=resource, present=", ".join(present), key=request_key),
            fix, Severity.ERROR)
