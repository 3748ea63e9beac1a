"""Edge rules: Ingress class, and one edge per public host."""
from __future__ import annotations

from collections.abc import Iterator

from reck8s.i18n import t
from reck8s.model import Severity
from reck8s.rules import Context, Hit, rule

CLASS_ANNOTATION = "kubernetes.io/ingress.class"


@rule("ingress-class", Severity.ERROR, "An Ingress names its class with spec.ingressClassName only.")
def ingress_class(ctx: Context) -> Iterator[Hit]:
    for ingress in ctx.of_kind("Ingress"):
        annotation = ingress.annotations.get(CLASS_ANNOTATION)
        name = ingress.spec.get("ingressClassName")
        if annotation is not None:
            yield Hit(
                ingress,
                t("uses the deprecated annotation {a}: {value}{clash}.", "使用了已弃用的注解 {a}: {value}{clash}。").format(
                    a=CLASS_ANNOTATION, value=annotation,
                    clash=t(" beside ingressClassName {n}", ", 同时还有 ingressClassName {n}").format(n=name) if name else ""),
                t("Remove the annotation and set spec.ingressClassName: {value}.", "删除该注解, 改为设置 spec.ingressClassName: {value}。").format(
                    value=name or annotation),
            )
        elif name is None:
            yield Hit(
                ingress,
                t("sets no ingressClassName, so it depends on which controller is the cluster default.",
                  "未设置 ingressClassName, 由集群默认的控制器决定是否处理它。"),
                t("Set spec.ingressClassName (for example nginx).", "设置 spec.ingressClassName (例如 nginx)。"),
                Severity.WARNING,
            )


@rule("edge-host-conflict", Severity.ERROR, "Each public host has exactly one edge: one Ingress or one Istio Gateway.")
def edge_host_conflict(ctx: Context) -> Iterator[Hit]:
    claims: dict[str, list] = {}
    for ingress in ctx.of_kind("Ingress"):
        for host in {r.get("host") for r in ingress.spec.get("rules") or [] if r.get("host")}:
            claims.setdefault(host, []).append(ingress)
    for gateway in ctx.of_kind("Gateway"):
        if not gateway.api_version.startswith("networking.istio.io/"):
            continue
        hosts = {h.rpartition("/")[2] for s in gateway.spec.get("servers") or [] for h in s.get("hosts") or []}
        for host in hosts:
            claims.setdefault(host, []).append(gateway)
    for host, owners in sorted(claims.items()):
        # Ingresses of one class may share a host (paths split across them, an
        # ingress-nginx canary); the conflict is two different edges.
        edges = {(o.kind, o.spec.get("ingressClassName") if o.kind == "Ingress" else o.namespace + "/" + o.name) for o in owners}
        if len(edges) < 2:
            continue
        yield Hit(
            owners[-1],
            t("host {host} is also claimed by {others}; clients would reach whichever edge DNS points at.",
              "主机 {host} 同时被 {others} 声明; 客户端到达哪个入口取决于 DNS 指向。").format(
                host=host, others=", ".join(o.ref() for o in owners[:-1])),
            t("Serve the host from one edge and forward from it into the mesh (see docs/architecture.md).",
              "只由一个入口提供该主机, 再由它转发进网格 (见 docs/architecture.md)。"),
        )
