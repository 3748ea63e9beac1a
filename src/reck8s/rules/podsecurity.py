"""Pod Security Standards "restricted" (Kubernetes v1.36), checked on pod templates.

Admission enforces the policy on Pods, not on Deployments, so a violating
Deployment is accepted and then fails to create any pod. Checking the
template here reports that before anything is applied.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reck8s.i18n import t
from reck8s.model import Severity
from reck8s.rules import Context, Hit, Workload, rule

RESTRICTED_VOLUME_TYPES = frozenset({
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
    "persistentVolumeClaim", "projected", "secret",
})
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
})
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})


def _all_containers(workload: Workload) -> list[dict[str, Any]]:
    spec = workload.pod_spec
    return [
        *(spec.get("initContainers") or []),
        *(spec.get("containers") or []),
        *(spec.get("ephemeralContainers") or []),
    ]


def restricted_violations(workload: Workload) -> list[str]:
    """Return one short description per violated control, naming the container."""
    spec = workload.pod_spec
    pod = spec.get("securityContext") or {}
    problems: list[str] = []

    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            problems.append(f"{field}=true")
    for volume in spec.get("volumes") or []:
        kinds = [key for key in volume if key != "name"]
        for kind in kinds:
            if kind not in RESTRICTED_VOLUME_TYPES:
                problems.append(t("volume {name!r} has type {kind}", "卷 {name!r} 的类型为 {kind}").format(
                    name=volume.get("name"), kind=kind))
    for sysctl in pod.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            problems.append(t("unsafe sysctl {name}", "不安全的 sysctl {name}").format(name=sysctl.get("name")))
    problems.extend(_selinux_violations("pod", pod))
    if (pod.get("appArmorProfile") or {}).get("type") == "Unconfined":
        problems.append("pod appArmorProfile Unconfined")
    if pod.get("runAsUser") == 0:
        problems.append("pod runAsUser=0")

    pod_non_root = pod.get("runAsNonRoot") is True
    pod_seccomp = (pod.get("seccompProfile") or {}).get("type")
    if pod_seccomp == "Unconfined":
        problems.append("pod seccompProfile Unconfined")

    for container in _all_containers(workload):
        problems.extend(_container_violations(container, pod_non_root, pod_seccomp))
    return problems


def _container_violations(container: dict[str, Any], pod_non_root: bool, pod_seccomp: str | None) -> list[str]:
    name = container.get("name", "?")
    context = container.get("securityContext") or {}
    capabilities = context.get("capabilities") or {}
    problems = []

    if context.get("privileged"):
        problems.append(f"{name}: privileged")
    if context.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{name}: allowPrivilegeEscalation != false")
    non_root = context.get("runAsNonRoot")
    if non_root is False or (non_root is None and not pod_non_root):
        problems.append(f"{name}: runAsNonRoot != true")
    if context.get("runAsUser") == 0:
        problems.append(f"{name}: runAsUser=0")
    seccomp = (context.get("seccompProfile") or {}).get("type") or pod_seccomp
    if seccomp not in ("RuntimeDefault", "Localhost"):
        problems.append(f"{name}: seccompProfile {seccomp or 'unset'}")
    if "ALL" not in (capabilities.get("drop") or []):
        problems.append(f"{name}: capabilities.drop lacks ALL")
    added = [c for c in capabilities.get("add") or [] if c != "NET_BIND_SERVICE"]
    if added:
        problems.append(f"{name}: capabilities.add {added}")
    if context.get("procMount", "Default") != "Default":
        problems.append(f"{name}: procMount {context['procMount']}")
    for port in container.get("ports") or []:
        if port.get("hostPort"):
            problems.append(f"{name}: hostPort {port['hostPort']}")
    if (context.get("appArmorProfile") or {}).get("type") == "Unconfined":
        problems.append(f"{name}: appArmorProfile Unconfined")
    problems.extend(_selinux_violations(name, context))
    return problems


def _selinux_violations(owner: str, context: dict[str, Any]) -> list[str]:
    """Return the seLinuxOptions that Pod Security baseline forbids: any user or role, and custom types."""
    options = context.get("seLinuxOptions") or {}
    problems = [f"{owner}: seLinuxOptions.{field}" for field in ("user", "role") if options.get(field)]
    if options.get("type", "") not in SELINUX_TYPES:
        problems.append(f"{owner}: seLinuxOptions.type {options['type']}")
    return problems


@rule("pss-restricted", Severity.ERROR, "Every pod template, init containers included, passes Pod Security Standards `restricted`.")
def pss_restricted(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads():
        problems = restricted_violations(workload)
        if problems:
            yield Hit(
                workload.resource,
                t("violates Pod Security `restricted`, so admission rejects its pods: {problems}.",
                  "违反 Pod Security `restricted`, 准入控制会拒绝其 Pod: {problems}。").format(problems="; ".join(problems)),
                t("Set pod securityContext runAsNonRoot: true and seccompProfile.type: RuntimeDefault, and on every container allowPrivilegeEscalation: false and capabilities.drop: [ALL].",
                  "在 Pod securityContext 中设置 runAsNonRoot: true 和 seccompProfile.type: RuntimeDefault, 并在每个容器上设置 allowPrivilegeEscalation: false 和 capabilities.drop: [ALL]。"),
            )


@rule("service-account-token", Severity.WARNING, "Pods that do not call the Kubernetes API mount no ServiceAccount token.")
def service_account_token(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads():
        spec = workload.pod_spec
        if spec.get("automountServiceAccountToken") is False:
            continue
        account = ctx.find("ServiceAccount", spec.get("serviceAccountName") or "default", workload.resource.namespace)
        if spec.get("automountServiceAccountToken") is None and account is not None and account.obj.get("automountServiceAccountToken") is False:
            continue
        yield Hit(
            workload.resource,
            t("mounts a ServiceAccount token; a compromised container could use it against the API server.",
              "挂载了 ServiceAccount 令牌; 被攻破的容器可能用它访问 API server。"),
            t("Set automountServiceAccountToken: false on the pod or its ServiceAccount unless the pod calls the API.",
              "除非 Pod 需要调用 API, 否则在 Pod 或其 ServiceAccount 上设置 automountServiceAccountToken: false。"),
        )
