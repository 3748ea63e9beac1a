"""Hardening rules: settings that make a container safer but break it unless something else comes with them."""
from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any

from reck8s.i18n import t
from reck8s.model import Severity
from reck8s.rules import Context, Hit, Workload, rule

GPU_RESOURCE = "nvidia.com/gpu"
SLOW_INITIAL_DELAY_SECONDS = 30
# Volume types the kubelet always mounts read-only.
READ_ONLY_VOLUME_TYPES = ("configMap", "secret", "downwardAPI", "projected", "image")


def _long_running_containers(workload: Workload) -> list[dict[str, Any]]:
    """Return the containers that run for the pod's lifetime: native sidecars, then the app containers."""
    spec = workload.pod_spec
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    return sidecars + list(spec.get("containers") or [])


# startup-probe-missing


def _requests_gpu(container: dict[str, Any]) -> bool:
    resources = container.get("resources") or {}
    return any(GPU_RESOURCE in (resources.get(field) or {}) for field in ("requests", "limits"))


@rule("startup-probe-missing", Severity.WARNING,
      "A container that starts slowly (a long liveness initialDelaySeconds, or a GPU) has a startupProbe.")
def startup_probe_missing(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads():
        for container in _long_running_containers(workload):
            liveness = container.get("livenessProbe")
            if not liveness or container.get("startupProbe"):
                continue
            delay = int(liveness.get("initialDelaySeconds", 0))
            # Kubernetes defaults: failureThreshold 3, periodSeconds 10.
            budget = delay + int(liveness.get("failureThreshold", 3)) * int(liveness.get("periodSeconds", 10))
            if _requests_gpu(container):
                evidence = t("requests {r}, so it likely loads a model and initializes CUDA before it serves",
                             "请求了 {r}, 提供服务前很可能要加载模型并初始化 CUDA").format(r=GPU_RESOURCE)
            elif delay >= SLOW_INITIAL_DELAY_SECONDS:
                evidence = t("delays its livenessProbe by initialDelaySeconds: {delay}, a guess of its start time",
                             "用 initialDelaySeconds: {delay} 推迟 livenessProbe, 这是对启动时间的猜测").format(delay=delay)
            else:
                continue
            yield Hit(
                workload.resource,
                t("container {name!r} {evidence}, but has no startupProbe: the livenessProbe kills it about {budget}s "
                  "after start if it is not serving yet, and a restart begins the load again.",
                  "容器 {name!r} {evidence}, 却没有 startupProbe: 若启动后约 {budget}s 仍未提供服务, livenessProbe 会杀死它, "
                  "重启后又要从头加载。").format(name=container.get("name"), evidence=evidence, budget=budget),
                t("Add a startupProbe with the liveness check whose failureThreshold × periodSeconds exceeds the slowest "
                  "start (failureThreshold: 60 with periodSeconds: 10 allows 10 minutes), and drop initialDelaySeconds "
                  "from the livenessProbe.",
                  "添加与 liveness 检查相同的 startupProbe, 其 failureThreshold × periodSeconds 要超过最慢的启动时间 "
                  "(failureThreshold: 60 配合 periodSeconds: 10 可等待 10 分钟), 并去掉 livenessProbe 的 initialDelaySeconds。"),
            )


# readonly-root-no-tmp


def _volume_read_only(volume: dict[str, Any] | None) -> str | None:
    """Return the volume type if the volume can only be mounted read-only, else None."""
    if volume is None:
        return None
    for kind in READ_ONLY_VOLUME_TYPES:
        if kind in volume:
            return kind
    for kind in ("persistentVolumeClaim", "csi"):
        if (volume.get(kind) or {}).get("readOnly"):
            return kind
    return None


def _writable_at(path: str, container: dict[str, Any], volumes: dict[str, dict[str, Any]]) -> tuple[bool, str | None]:
    """Return whether `path` is writable in the container, and why not when a read-only mount covers it.

    The mount with the longest mountPath that contains `path` decides.
    """
    path = posixpath.normpath(path)
    covering = []
    for mount in container.get("volumeMounts") or []:
        mount_path = posixpath.normpath(mount.get("mountPath") or "/")
        if path == mount_path or path.startswith(mount_path.rstrip("/") + "/"):
            covering.append((len(mount_path), mount_path, mount))
    if not covering:
        return False, None
    _, mount_path, mount = max(covering, key=lambda item: item[0])
    kind = "readOnly" if mount.get("readOnly") else _volume_read_only(volumes.get(mount.get("name", "")))
    if kind is None:
        return True, None
    return False, t("volume {name!r} at {path} is read-only ({kind})", "卷 {name!r} 挂载在 {path}, 是只读的 ({kind})").format(
        name=mount.get("name"), path=mount_path, kind=kind)


def _temp_dirs(container: dict[str, Any]) -> list[str]:
    """Return /tmp and the TMPDIR the container sets, since libraries write temporary files to TMPDIR when it is set."""
    dirs = ["/tmp"]
    for variable in container.get("env") or []:
        if variable.get("name") == "TMPDIR" and str(variable.get("value", "")).startswith("/"):
            dirs.append(variable["value"])
    return dirs


@rule("readonly-root-no-tmp", Severity.WARNING,
      "A container with a read-only root filesystem mounts a writable volume at /tmp.")
def readonly_root_no_tmp(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads():
        volumes = {v.get("name", ""): v for v in workload.pod_spec.get("volumes") or []}
        for container in workload.containers():
            if not (container.get("securityContext") or {}).get("readOnlyRootFilesystem"):
                continue
            results = [_writable_at(path, container, volumes) for path in _temp_dirs(container)]
            if any(writable for writable, _ in results):
                continue
            read_only = results[0][1]
            problem = (t("its /tmp mount does not help: {why}", "它的 /tmp 挂载无济于事: {why}").format(why=read_only)
                       if read_only else t("mounts nothing at /tmp", "没有在 /tmp 挂载任何卷"))
            yield Hit(
                workload.resource,
                t("container {name!r} sets readOnlyRootFilesystem: true and {problem}, so any library that writes a "
                  "temporary file fails with \"Read-only file system\".",
                  "容器 {name!r} 设置了 readOnlyRootFilesystem: true, 并且{problem}, 任何写临时文件的库都会因 "
                  "\"Read-only file system\" 而失败。").format(name=container.get("name"), problem=problem),
                t("Mount an emptyDir volume at /tmp (with a sizeLimit, for example 256Mi).",
                  "在 /tmp 挂载一个 emptyDir 卷 (设置 sizeLimit, 例如 256Mi)。"),
            )


# non-root-numeric-user


@rule("non-root-numeric-user", Severity.WARNING,
      "A container that must run as non-root has a numeric runAsUser, on itself or on its pod.")
def non_root_numeric_user(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads():
        spec = workload.pod_spec
        if (spec.get("os") or {}).get("name") == "windows":
            continue  # Windows checks runAsUserName, not a UID.
        pod = spec.get("securityContext") or {}
        for container in workload.containers():
            own = container.get("securityContext") or {}
            non_root = own.get("runAsNonRoot", pod.get("runAsNonRoot"))
            if non_root is not True:
                continue
            if own.get("runAsUser") is not None or pod.get("runAsUser") is not None:
                continue
            where = t("the container", "容器") if own.get("runAsNonRoot") is True else t("the pod", "Pod")
            yield Hit(
                workload.resource,
                t("container {name!r} must run as non-root (runAsNonRoot: true on {where}), but neither it nor the pod "
                  "sets runAsUser. The kubelet can verify only a numeric image USER, so an image whose USER is a name "
                  "fails with CreateContainerConfigError.",
                  "容器 {name!r} 必须以非 root 运行 ({where}上设置了 runAsNonRoot: true), 但容器和 Pod 都没有设置 runAsUser。"
                  "kubelet 只能校验数字形式的镜像 USER, 镜像的 USER 若是名称, 容器会以 CreateContainerConfigError 失败。").format(
                    name=container.get("name"), where=where),
                t("Set securityContext.runAsUser to the image's numeric UID (for example 10001) on the pod or on the container.",
                  "在 Pod 或容器的 securityContext.runAsUser 上设置镜像的数字 UID (例如 10001)。"),
            )
