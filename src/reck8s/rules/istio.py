"""Istio rules: routes resolve to real subsets and pods, and circuit breaking is sound."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from reck8s.i18n import t
from reck8s.model import Resource, Severity
from reck8s.rules import Context, Hit, labels_match, rule
from reck8s.rules.references import resolve_service_host

DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> float | None:
    match = DURATION.match(str(value or ""))
    if not match:
        return None
    return float(match.group(1)) * UNIT_SECONDS[match.group(2)]


def _routes(vs: Resource) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (protocol, route) for every http, tls and tcp route of a VirtualService."""
    for protocol in ("http", "tls", "tcp"):
        for route in vs.spec.get(protocol) or []:
            yield protocol, route


def _destinations(vs: Resource) -> Iterator[dict[str, Any]]:
    for _, route in _routes(vs):
        for weighted in route.get("route") or []:
            if weighted.get("destination"):
                yield weighted["destination"]
        for key in ("mirror",):
            if route.get(key):
                yield route[key]


def service_and_namespace(host: str, namespace: str) -> tuple[str, str]:
    """Split an in-cluster host (name, name.ns, name.ns.svc[.cluster.local]) into Service and namespace."""
    parts = host.split(".")
    if len(parts) >= 2 and (len(parts) == 2 or parts[2] == "svc"):
        return parts[0], parts[1]
    return parts[0] if len(parts) == 1 else host, namespace


def _destination_rule(ctx: Context, host: str, namespace: str) -> Resource | None:
    """Return the DestinationRule for a destination host, resolving both hosts to (Service, namespace)."""
    destination_key = service_and_namespace(host, namespace)
    external = "." in host and destination_key[0] == host
    for rule_ in ctx.of_kind("DestinationRule"):
        rule_host = rule_.spec.get("host", "")
        if service_and_namespace(rule_host, rule_.namespace) == destination_key or (external and rule_host == host):
            return rule_
    return None


@rule("istio-gateway-ref", Severity.ERROR, "A VirtualService binds only `mesh` or Gateways in the render.")
def gateway_ref(ctx: Context) -> Iterator[Hit]:
    for vs in ctx.of_kind("VirtualService"):
        for gateway in vs.spec.get("gateways") or []:
            if gateway == "mesh":
                continue
            namespace, _, name = gateway.rpartition("/")
            namespace = namespace or vs.namespace
            if namespace != vs.namespace:
                continue  # A shared gateway owned by the platform, outside this render.
            if ctx.find("Gateway", name, namespace) is None:
                yield Hit(
                    vs,
                    t("binds Gateway {name!r}, which is not in the render; the routes would apply to no traffic from it.",
                      "绑定的 Gateway {name!r} 不在渲染结果中; 这些路由不会作用于来自它的流量。").format(name=name),
                    t("Add the Gateway, write it as NAMESPACE/NAME for a shared gateway, or remove it.",
                      "加入该 Gateway, 共享网关写成 NAMESPACE/NAME, 或删除该绑定。"),
                )


@rule("istio-host-ref", Severity.ERROR, "VirtualService destinations and DestinationRule hosts are Services in the render.")
def host_ref(ctx: Context) -> Iterator[Hit]:
    entries = {h for se in ctx.of_kind("ServiceEntry") for h in se.spec.get("hosts") or []}
    for resource in [*ctx.of_kind("VirtualService"), *ctx.of_kind("DestinationRule")]:
        hosts = [d.get("host", "") for d in _destinations(resource)] if resource.kind == "VirtualService" else [resource.spec.get("host", "")]
        for host in hosts:
            if host in entries or "*" in host:
                continue
            service = resolve_service_host(ctx, host, resource.namespace)
            if service is None or ctx.find("Service", service, resource.namespace) is not None:
                continue
            yield Hit(
                resource,
                t("host {host!r} is not a Service in the render; traffic to it would fail.",
                  "主机 {host!r} 不是渲染结果中的 Service; 发往它的流量将失败。").format(host=host),
                t("Use the name of a Service in this namespace, or add a ServiceEntry for an external host.",
                  "使用本命名空间中 Service 的名称, 或为外部主机添加 ServiceEntry。"),
            )


@rule("istio-subset-undefined", Severity.ERROR, "Every subset a route names is defined by the DestinationRule of its host.")
def subset_undefined(ctx: Context) -> Iterator[Hit]:
    for vs in ctx.of_kind("VirtualService"):
        for destination in _destinations(vs):
            subset = destination.get("subset")
            if not subset:
                continue
            host = destination.get("host", "")
            rule_ = _destination_rule(ctx, host, vs.namespace)
            defined = {s.get("name") for s in (rule_.spec.get("subsets") or [])} if rule_ else set()
            if subset in defined:
                continue
            where = rule_.ref() if rule_ else t("no DestinationRule", "没有 DestinationRule")
            yield Hit(
                vs,
                t("routes to subset {subset!r} of host {host}, which is not defined ({where} defines: {defined}); every such request would get 503.",
                  "路由到主机 {host} 的 subset {subset!r}, 但它未被定义 ({where} 定义了: {defined}); 这些请求都会得到 503。").format(
                    subset=subset, host=host, where=where, defined=", ".join(sorted(defined)) or "-"),
                t("Define subset {subset!r} in the DestinationRule for {host}, or route to a defined subset.",
                  "在 {host} 的 DestinationRule 中定义 subset {subset!r}, 或路由到已定义的 subset。").format(subset=subset, host=host),
            )


@rule("istio-subset-no-pods", Severity.ERROR, "Every DestinationRule subset selects pods that are behind its Service.")
def subset_no_pods(ctx: Context) -> Iterator[Hit]:
    for rule_ in ctx.of_kind("DestinationRule"):
        service_name = resolve_service_host(ctx, rule_.spec.get("host", ""), rule_.namespace)
        service = ctx.find("Service", service_name or "", rule_.namespace)
        if service is None or not service.spec.get("selector"):
            continue  # No Service here, or one whose endpoints are managed by hand.
        behind = ctx.workloads_selected(rule_.namespace, service.spec.get("selector") or {})
        for subset in rule_.spec.get("subsets") or []:
            labels = subset.get("labels") or {}
            if any(labels_match(labels, w.pod_labels) for w in behind):
                continue
            yield Hit(
                rule_,
                t("subset {name!r} selects {labels}, which no pod behind Service {service} carries; routes to it would get 503.",
                  "subset {name!r} 选择 {labels}, 但 Service {service} 后面没有 Pod 带有这些标签; 路由到它的请求会得到 503。").format(
                    name=subset.get("name"), labels=labels, service=service.name),
                t("Deploy a workload whose pods carry these labels, or remove the subset and the routes to it.",
                  "部署 Pod 带有这些标签的工作负载, 或删除该 subset 及指向它的路由。"),
            )


@rule("istio-route-weights", Severity.ERROR, "The weights of a route's destinations are not all 0, and sum to 100.")
def route_weights(ctx: Context) -> Iterator[Hit]:
    for vs in ctx.of_kind("VirtualService"):
        for _, route in _routes(vs):
            destinations = route.get("route") or []
            if len(destinations) < 2:
                continue
            total = sum(int(d.get("weight", 0)) for d in destinations)
            if total == 0:
                yield Hit(
                    vs,
                    t("route {name!r} has {n} destinations whose weights are all 0, so Istio rejects the route.",
                      "路由 {name!r} 有 {n} 个目标, 权重全为 0, Istio 会拒绝该路由。").format(
                        name=route.get("name", "-"), n=len(destinations)),
                    t("Give the destinations weights that add up to 100.", "为各目标设置总和为 100 的权重。"),
                )
            elif total != 100:
                # Istio reads weights as relative proportions, so the split still
                # works, but a reader of 90/20 would not see that the canary gets 18 %.
                yield Hit(
                    vs,
                    t("route {name!r} splits traffic with weights summing to {total}, not 100; Istio treats them as proportions, so the real shares are {shares}.",
                      "路由 {name!r} 的权重之和为 {total}, 而不是 100; Istio 按比例处理, 实际占比为 {shares}。").format(
                        name=route.get("name", "-"), total=total,
                        shares=", ".join(f"{int(d.get('weight', 0)) * 100 / total:.3g} %" for d in destinations)),
                    t("Make the weights add up to 100, so they read as the percentages they are.",
                      "让权重之和等于 100, 使其读起来就是实际的百分比。"),
                    Severity.WARNING,
                )


@rule("istio-retry-budget", Severity.ERROR, "A route's timeout leaves room for all its retries.")
def retry_budget(ctx: Context) -> Iterator[Hit]:
    for vs in ctx.of_kind("VirtualService"):
        for route in vs.spec.get("http") or []:
            timeout = parse_duration(route.get("timeout"))
            retries = route.get("retries") or {}
            per_try = parse_duration(retries.get("perTryTimeout"))
            attempts = int(retries.get("attempts", 0))
            if timeout is None or per_try is None or attempts == 0:
                continue
            # Istio's `attempts` counts retries, so a request makes attempts + 1 tries.
            needed = (attempts + 1) * per_try
            if needed > timeout:
                yield Hit(
                    vs,
                    t("route {name!r}: {tries} tries of {per_try} need {needed:g}s, but the route timeout is {timeout}; the last retries are cut off.",
                      "路由 {name!r}: {tries} 次尝试、每次 {per_try}, 共需 {needed:g}s, 但路由超时为 {timeout}; 最后的重试会被截断。").format(
                        name=route.get("name", "-"), tries=attempts + 1, per_try=retries.get("perTryTimeout"),
                        needed=needed, timeout=route.get("timeout")),
                    t("Raise the timeout to at least {needed:g}s, or lower attempts or perTryTimeout.",
                      "把超时提高到至少 {needed:g}s, 或减少 attempts 或 perTryTimeout。").format(needed=needed),
                )


@rule("istio-fault-injection", Severity.WARNING, "A VirtualService injects faults (delays or aborts) into real traffic.")
def fault_injection(ctx: Context) -> Iterator[Hit]:
    for vs in ctx.of_kind("VirtualService"):
        for route in vs.spec.get("http") or []:
            if route.get("fault"):
                yield Hit(
                    vs,
                    t("route {name!r} injects faults ({kinds}) into every matching request; this is chaos testing, not circuit breaking.",
                      "路由 {name!r} 对匹配的请求注入故障 ({kinds}); 这是混沌测试, 不是熔断。").format(
                        name=route.get("name", "-"), kinds=", ".join(route["fault"])),
                    t("Remove `fault` outside test environments; use the DestinationRule's connectionPool and outlierDetection for circuit breaking.",
                      "在测试环境之外删除 `fault`; 熔断请用 DestinationRule 的 connectionPool 和 outlierDetection。"),
                )


def _is_in_cluster_host(host: str) -> bool:
    return "." not in host or host.endswith(".svc") or ".svc." in host


@rule("istio-mesh-gateway", Severity.WARNING, "A VirtualService for an in-cluster host that binds gateways also binds `mesh`.")
def mesh_gateway(ctx: Context) -> Iterator[Hit]:
    for vs in ctx.of_kind("VirtualService"):
        gateways = vs.spec.get("gateways")
        if not gateways or "mesh" in gateways:
            continue
        internal = [h for h in vs.spec.get("hosts") or [] if _is_in_cluster_host(h)]
        if internal:
            yield Hit(
                vs,
                t("names the in-cluster host {hosts} but binds only {gateways}, so callers inside the mesh skip these rules.",
                  "列出了集群内主机 {hosts}, 却只绑定了 {gateways}, 网格内的调用方会绕过这些规则。").format(
                    hosts=", ".join(internal), gateways=", ".join(gateways)),
                t("Add `mesh` to spec.gateways, or move the in-cluster host to a VirtualService bound to `mesh`.",
                  "在 spec.gateways 中加入 `mesh`, 或把集群内主机移到绑定 `mesh` 的 VirtualService。"),
            )
