"""Reference rules: every name one object uses resolves to an object in the same render."""
from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

from reck8s.i18n import t
from reck8s.model import Resource, Severity
from reck8s.rules import Context, Hit, Workload, rule, selector_matches

CLUSTER_DOMAIN = "svc.cluster.local"
HOST_KEY = re.compile(r"(_HOST|_ENDPOINT|_URL|_ADDR|_ADDRESS)$")


def secret_producers(ctx: Context, namespace: str) -> dict[str, Resource]:
    """Return every Secret name that exists, or will be written, in a namespace, with its writer."""
    produced: dict[str, Resource] = {}
    for secret in ctx.of_kind("Secret"):
        if secret.namespace == namespace:
            produced[secret.name] = secret
    for external in ctx.of_kind("ExternalSecret"):
        if external.namespace == namespace:
            target = (external.spec.get("target") or {}).get("name") or external.name
            produced[target] = external
    for certificate in ctx.of_kind("Certificate"):
        if certificate.namespace == namespace and certificate.spec.get("secretName"):
            produced[certificate.spec["secretName"]] = certificate
    return produced


def _missing(ctx: Context, kind: str, name: str, namespace: str) -> bool:
    return ctx.find(kind, name, namespace) is None


@rule("ref-service-selector", Severity.ERROR, "A Service's selector matches the pods of a workload in the render.")
def service_selector(ctx: Context) -> Iterator[Hit]:
    for service in ctx.of_kind("Service"):
        if service.spec.get("type") == "ExternalName":
            continue
        selector = service.spec.get("selector") or {}
        if not selector:
            continue
        if not ctx.workloads_selected(service.namespace, selector):
            yield Hit(
                service,
                t("selector {selector} matches no pod template in the render, so the Service has no endpoints.",
                  "选择器 {selector} 不匹配渲染结果中的任何 Pod 模板, Service 将没有端点。").format(selector=selector),
                t("Make the selector a subset of the pod template labels of the workload it fronts.",
                  "让选择器成为目标工作负载 Pod 模板标签的子集。"),
            )


def _container_ports(workload: Workload) -> list[dict[str, Any]]:
    """Return the ports of the long-running containers: main containers and native sidecars."""
    ports = []
    for container in workload.containers(init=True):
        if container in (workload.pod_spec.get("initContainers") or []) and container.get("restartPolicy") != "Always":
            continue
        ports.extend(container.get("ports") or [])
    return ports


@rule("ref-target-port", Severity.ERROR, "A Service's targetPort names a container port, of the same protocol, in every selected pod.")
def target_port(ctx: Context) -> Iterator[Hit]:
    for service in ctx.of_kind("Service"):
        if service.spec.get("type") == "ExternalName":
            continue
        workloads = ctx.workloads_selected(service.namespace, service.spec.get("selector") or {})
        for port in service.spec.get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            protocol = port.get("protocol", "TCP")
            for workload in workloads:
                ports = _container_ports(workload)
                if isinstance(target, str):
                    found = any(p.get("name") == target and p.get("protocol", "TCP") == protocol for p in ports)
                else:
                    # A numeric target reaches any listening port; only warn if no container declares it.
                    found = not ports or any(p.get("containerPort") == target for p in ports)
                if found:
                    continue
                yield Hit(
                    service,
                    t("port {port} targets {target!r}/{protocol}, which {workload} does not declare.",
                      "端口 {port} 的目标 {target!r}/{protocol} 未在 {workload} 中声明。").format(
                        port=port.get("name") or port.get("port"), target=target, protocol=protocol,
                        workload=workload.resource.ref()),
                    t("Name the container port {target!r} with protocol {protocol}, or point targetPort at an existing port name.",
                      "把容器端口命名为 {target!r} 并使用协议 {protocol}, 或让 targetPort 指向已有的端口名。").format(
                        target=target, protocol=protocol),
                    None if isinstance(target, str) else Severity.WARNING,
                )


@rule("ref-hpa-target", Severity.ERROR, "A HorizontalPodAutoscaler's scaleTargetRef names a workload in the render.")
def hpa_target(ctx: Context) -> Iterator[Hit]:
    for hpa in ctx.of_kind("HorizontalPodAutoscaler"):
        target = hpa.spec.get("scaleTargetRef") or {}
        if _missing(ctx, target.get("kind", ""), target.get("name", ""), hpa.namespace):
            yield Hit(
                hpa,
                t("scaleTargetRef {kind}/{name} is not in the render, so nothing is scaled.",
                  "scaleTargetRef {kind}/{name} 不在渲染结果中, 不会伸缩任何对象。").format(
                    kind=target.get("kind"), name=target.get("name")),
                t("Point scaleTargetRef at the Deployment's current name (check namePrefix/nameSuffix).",
                  "让 scaleTargetRef 指向 Deployment 的当前名称 (注意 namePrefix/nameSuffix)。"),
            )


@rule("ref-pdb-selector", Severity.ERROR, "A PodDisruptionBudget's selector matches the pods of a workload in the render.")
def pdb_selector(ctx: Context) -> Iterator[Hit]:
    for pdb in ctx.of_kind("PodDisruptionBudget"):
        selector = pdb.spec.get("selector")
        matched = [w for w in ctx.workloads() if w.resource.namespace == pdb.namespace and selector_matches(selector, w.pod_labels)]
        if not matched:
            yield Hit(
                pdb,
                t("selector matches no pods, so the budget protects nothing.", "选择器不匹配任何 Pod, 该预算不保护任何对象。"),
                t("Copy the selector from the workload it protects.", "从要保护的工作负载复制选择器。"),
            )


def _pod_references(workload: Workload) -> Iterator[tuple[str, str, bool]]:
    """Yield (kind, name, optional) for each ConfigMap, Secret, PVC and ServiceAccount a pod uses."""
    spec = workload.pod_spec
    account = spec.get("serviceAccountName")
    if account and account != "default":
        yield "ServiceAccount", account, False
    for container in workload.containers():
        for source in container.get("envFrom") or []:
            if "configMapRef" in source:
                ref = source["configMapRef"]
                yield "ConfigMap", ref.get("name", ""), bool(ref.get("optional"))
            if "secretRef" in source:
                ref = source["secretRef"]
                yield "Secret", ref.get("name", ""), bool(ref.get("optional"))
        for variable in container.get("env") or []:
            value_from = variable.get("valueFrom") or {}
            if "configMapKeyRef" in value_from:
                ref = value_from["configMapKeyRef"]
                yield "ConfigMap", ref.get("name", ""), bool(ref.get("optional"))
            if "secretKeyRef" in value_from:
                ref = value_from["secretKeyRef"]
                yield "Secret", ref.get("name", ""), bool(ref.get("optional"))
    for volume in spec.get("volumes") or []:
        for source in (volume.get("projected") or {}).get("sources") or []:
            if "configMap" in source:
                yield "ConfigMap", source["configMap"].get("name", ""), bool(source["configMap"].get("optional"))
            if "secret" in source:
                yield "Secret", source["secret"].get("name", ""), bool(source["secret"].get("optional"))
        if "configMap" in volume:
            yield "ConfigMap", volume["configMap"].get("name", ""), bool(volume["configMap"].get("optional"))
        if "secret" in volume:
            yield "Secret", volume["secret"].get("secretName", ""), bool(volume["secret"].get("optional"))
        if "persistentVolumeClaim" in volume:
            yield "PersistentVolumeClaim", volume["persistentVolumeClaim"].get("claimName", ""), False
    for pull in spec.get("imagePullSecrets") or []:
        yield "Secret", pull.get("name", ""), False


@rule("ref-pod-dependency", Severity.ERROR, "Every ConfigMap, Secret, PVC and ServiceAccount a pod uses is in the render or written by one.")
def pod_dependency(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads():
        namespace = workload.resource.namespace
        secrets = secret_producers(ctx, namespace)
        for kind, name, optional in _pod_references(workload):
            if optional:
                continue
            if kind == "Secret":
                exists = name in secrets
            else:
                exists = ctx.find(kind, name, namespace) is not None
            if exists:
                continue
            yield Hit(
                workload.resource,
                t("uses {kind} {name!r}, which is not in the render and no object writes it; the pods would not start.",
                  "引用的 {kind} {name!r} 不在渲染结果中, 也没有对象生成它; Pod 将无法启动。").format(kind=kind, name=name),
                _dependency_fix(kind, name),
            )


def _dependency_fix(kind: str, name: str) -> str:
    if kind == "Secret":
        return t(
            "Add Secret {name} to the overlay: a secretGenerator, an ExternalSecret or a Certificate that writes it; or fix the name.",
            "在 overlay 中提供 Secret {name}: secretGenerator、ExternalSecret 或写入它的 Certificate; 或修正名称。",
        ).format(name=name)
    return t("Add {kind} {name} to the overlay, or fix the name.", "在 overlay 中加入 {kind} {name}, 或修正名称。").format(
        kind=kind, name=name)


def _service_names(ctx: Context, namespace: str) -> set[str]:
    return {s.name for s in ctx.of_kind("Service") if s.namespace == namespace}


def resolve_service_host(ctx: Context, host: str, namespace: str) -> str | None:
    """Return the Service name a host means in a namespace, or None if it is not an in-cluster name."""
    parts = host.split(".")
    if len(parts) == 1:
        return host
    if len(parts) == 2 and parts[1] == namespace:
        return parts[0]
    if host.endswith("." + CLUSTER_DOMAIN) or host.endswith(".svc"):
        if parts[1] == namespace:
            return parts[0]
    return None


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _host_of(value: str) -> str | None:
    if "://" in value:
        return urlparse(value).hostname
    if re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:\d+)?", value):
        return value.split(":")[0]
    return None


@rule("ref-dependency-host", Severity.ERROR, "A host name in a ConfigMap (`*_HOST`, `*_ENDPOINT`, `*_URL`) is a Service of the environment.")
def dependency_host(ctx: Context) -> Iterator[Hit]:
    for config in ctx.of_kind("ConfigMap"):
        services = _service_names(ctx, config.namespace)
        for key, value in (config.obj.get("data") or {}).items():
            if not HOST_KEY.search(key) or not isinstance(value, str):
                continue
            host = _host_of(value)
            if not host or host == "localhost" or _is_ip_address(host):
                continue  # The pod itself (a sidecar's port), or a literal address.
            service = resolve_service_host(ctx, host, config.namespace)
            if service is None:
                if host.endswith("." + CLUSTER_DOMAIN) or host.endswith(".svc"):
                    severity, problem = Severity.ERROR, t(
                        "{key} names {host}, a Service in another namespace.",
                        "{key} 指向 {host}, 这是其他命名空间的 Service。")
                else:
                    severity, problem = Severity.WARNING, t(
                        "{key} names the external host {host} directly.",
                        "{key} 直接写了外部主机 {host}。")
                yield Hit(
                    config,
                    problem.format(key=key, host=host),
                    t("Give the dependency an ExternalName Service in this namespace and use its short name.",
                      "在本命名空间为该依赖建一个 ExternalName Service, 并使用它的短名称。"),
                    severity,
                )
            elif service not in services:
                yield Hit(
                    config,
                    t("{key} names {host}, but the render has no Service {service}; every lookup would fail.",
                      "{key} 指向 {host}, 但渲染结果中没有 Service {service}; 解析将失败。").format(
                        key=key, host=host, service=service),
                    t("Add Service {service} to the overlay: the workload's own Service, or an ExternalName Service for a managed or platform service.",
                      "在 overlay 中加入 Service {service}: 工作负载自己的 Service, 或指向托管服务或平台服务的 ExternalName Service。").format(service=service),
                )


@rule("ref-certificate-issuer", Severity.ERROR, "A Certificate's issuerRef names an Issuer in its namespace or a ClusterIssuer in the render.")
def certificate_issuer(ctx: Context) -> Iterator[Hit]:
    for certificate in ctx.of_kind("Certificate"):
        ref = certificate.spec.get("issuerRef") or {}
        if ref.get("group", "cert-manager.io") != "cert-manager.io":
            continue  # An external issuer; its kinds are not in this render.
        kind = ref.get("kind", "Issuer")
        namespace = certificate.namespace if kind == "Issuer" else ""
        if ctx.find(kind, ref.get("name", ""), namespace) is None:
            yield Hit(
                certificate,
                t("issuerRef {kind} {name!r} is not in the render, so the certificate is never issued.",
                  "issuerRef {kind} {name!r} 不在渲染结果中, 证书永远不会签发。").format(kind=kind, name=ref.get("name")),
                t("Add the {kind} to the overlay or point issuerRef at the environment's issuer.",
                  "在 overlay 中加入该 {kind}, 或让 issuerRef 指向本环境的 issuer。").format(kind=kind),
            )


@rule("ref-ingress-backend", Severity.ERROR, "An Ingress backend names a Service and a port of it in the render.")
def ingress_backend(ctx: Context) -> Iterator[Hit]:
    for ingress in ctx.of_kind("Ingress"):
        backends = []
        if ingress.spec.get("defaultBackend"):
            backends.append(ingress.spec["defaultBackend"])
        for rule_ in ingress.spec.get("rules") or []:
            for path in (rule_.get("http") or {}).get("paths") or []:
                backends.append(path.get("backend") or {})
        for backend in backends:
            service_ref = backend.get("service")
            if not service_ref:
                continue
            name = service_ref.get("name", "")
            port = service_ref.get("port") or {}
            service = ctx.find("Service", name, ingress.namespace)
            if service is None:
                yield Hit(
                    ingress,
                    t("backend Service {name!r} is not in the render; requests would get 503.",
                      "后端 Service {name!r} 不在渲染结果中; 请求将返回 503。").format(name=name),
                    t("Add the Service or point the backend at an existing one.", "添加该 Service, 或让后端指向已有的 Service。"),
                )
                continue
            ports = service.spec.get("ports") or []
            expected_name, expected_number = port.get("name"), port.get("number")
            if expected_name and not any(p.get("name") == expected_name for p in ports):
                problem = repr(expected_name)
            elif expected_number and not any(p.get("port") == expected_number for p in ports):
                problem = str(expected_number)
            else:
                continue
            yield Hit(
                ingress,
                t("backend port {port} is not a port of Service {name}.", "后端端口 {port} 不是 Service {name} 的端口。").format(
                    port=problem, name=name),
                t("Use one of the Service's port names: {names}.", "使用该 Service 的端口名之一: {names}。").format(
                    names=", ".join(str(p.get("name")) for p in ports)),
            )


def _nearest(name: str, candidates: dict[str, Resource]) -> Resource | None:
    """Return the producer whose Secret name shares the longest prefix or suffix with `name`."""
    best, score = None, 0
    for candidate, producer in candidates.items():
        common = max(
            len(os.path.commonprefix([name, candidate])),
            len(os.path.commonprefix([name[::-1], candidate[::-1]])),
        )
        if common > score:
            best, score = producer, common
    return best if score >= 3 else None


@rule("ref-tls-secret", Severity.ERROR, "An Ingress's TLS secret exists or is written by a Certificate or an ExternalSecret in the render.")
def tls_secret(ctx: Context) -> Iterator[Hit]:
    for ingress in ctx.of_kind("Ingress"):
        producers = secret_producers(ctx, ingress.namespace)
        shim = "cert-manager.io/issuer" in ingress.annotations or "cert-manager.io/cluster-issuer" in ingress.annotations
        for tls in ingress.spec.get("tls") or []:
            name = tls.get("secretName")
            if not name or name in producers or shim:
                continue
            nearby = _nearest(name, {k: v for k, v in producers.items() if v.kind == "Certificate"})
            hint = ""
            if nearby is not None:
                hint = t(" {ref} writes {secret!r}; one of the two names is wrong.",
                         " {ref} 写入的是 {secret!r}; 两个名称之一有误。").format(
                    ref=nearby.ref(), secret=nearby.spec.get("secretName"))
            yield Hit(
                ingress,
                t("no Secret, Certificate or ExternalSecret produces the TLS secret {name!r}, so the controller would serve its fake certificate.{hint}",
                  "没有 Secret、Certificate 或 ExternalSecret 生成 TLS secret {name!r}, 控制器将使用其伪造证书。{hint}").format(
                    name=name, hint=hint),
                t("Make the Certificate's spec.secretName and the Ingress's tls.secretName the same.",
                  "让 Certificate 的 spec.secretName 与 Ingress 的 tls.secretName 一致。"),
            )


@rule("ref-secret-store", Severity.ERROR, "An ExternalSecret's store, and the store's ServiceAccount, are in the render.")
def secret_store(ctx: Context) -> Iterator[Hit]:
    for external in ctx.of_kind("ExternalSecret"):
        ref = external.spec.get("secretStoreRef")
        if not ref:
            continue  # Only generators (dataFrom sourceRef) feed it; no store is involved.
        kind = ref.get("kind", "SecretStore")
        namespace = external.namespace if kind == "SecretStore" else ""
        if ctx.find(kind, ref.get("name", ""), namespace) is None:
            yield Hit(
                external,
                t("secretStoreRef {kind} {name!r} is not in the render; the Secret would never be written.",
                  "secretStoreRef {kind} {name!r} 不在渲染结果中; Secret 永远不会生成。").format(kind=kind, name=ref.get("name")),
                t("Add the {kind} to the overlay or fix the reference.", "在 overlay 中加入该 {kind}, 或修正引用。").format(kind=kind),
            )
    for store in ctx.of_kind("SecretStore"):
        for account in _service_account_refs(store.spec.get("provider") or {}):
            if ctx.find("ServiceAccount", account, store.namespace) is None:
                yield Hit(
                    store,
                    t("authenticates as ServiceAccount {name!r}, which is not in the render.",
                      "使用的 ServiceAccount {name!r} 不在渲染结果中。").format(name=account),
                    t("Add the ServiceAccount to the overlay.", "在 overlay 中加入该 ServiceAccount。"),
                )


def _service_account_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "serviceAccountRef" and isinstance(value, dict) and value.get("name"):
                yield value["name"]
            else:
                yield from _service_account_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _service_account_refs(item)
