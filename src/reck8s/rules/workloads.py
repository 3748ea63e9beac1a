"""Workload rules: sizing, probes, images, disruption budgets, autoscaling and GPUs."""
from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from reck8s.i18n import t
from reck8s.model import Severity
from reck8s.rules import SCALABLE_KINDS, Context, Hit, Workload, rule, selector_matches
from reck8s.rules.mesh_security import proxy_request_problem, sidecar_injection

GPU_RESOURCE = "nvidia.com/gpu"
GPU_NODE_LABEL = "nvidia.com/gpu.present"
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
PLACEHOLDER_ANNOTATION = "reck8s.dev/placeholder"


def _containers_named(workload: Workload) -> Iterator[tuple[str, dict[str, Any]]]:
    spec = workload.pod_spec
    for container in spec.get("initContainers") or []:
        yield "init", container
    for container in spec.get("containers") or []:
        yield "main", container


@rule("container-resources", Severity.ERROR, "Every container, init containers included, requests CPU and memory and limits memory.")
def container_resources(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads():
        for _, container in _containers_named(workload):
            resources = container.get("resources") or {}
            requests = resources.get("requests") or {}
            limits = resources.get("limits") or {}
            # A limit without a request makes the API server copy the limit into the request.
            missing = [f"requests.{r}" for r in ("cpu", "memory") if r not in requests and r not in limits]
            if "memory" not in limits:
                missing.append("limits.memory")
            if missing:
                yield Hit(
                    workload.resource,
                    t("container {name!r} sets no {missing}; the scheduler cannot place it reliably and it may exhaust the node.",
                      "容器 {name!r} 未设置 {missing}; 调度器无法可靠放置它, 它还可能耗尽节点资源。").format(
                        name=container.get("name"), missing=", ".join(missing)),
                    t("Set resources.requests.cpu, resources.requests.memory and resources.limits.memory.",
                      "设置 resources.requests.cpu、resources.requests.memory 和 resources.limits.memory。"),
                )


@rule("container-probes", Severity.ERROR, "Every long-running container has readiness and liveness probes.")
def container_probes(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads():
        if workload.resource.kind in ("Job", "CronJob"):
            continue
        for container in workload.pod_spec.get("containers") or []:
            missing = [p for p in ("readinessProbe", "livenessProbe") if p not in container]
            if missing:
                yield Hit(
                    workload.resource,
                    t("container {name!r} has no {missing}; broken pods keep receiving traffic or are never restarted.",
                      "容器 {name!r} 没有 {missing}; 故障的 Pod 会继续接收流量或永远不会被重启。").format(
                        name=container.get("name"), missing=", ".join(missing)),
                    t("Add the probes against the application's health endpoints, and a startupProbe if it starts slowly.",
                      "针对应用的健康检查端点添加探针; 启动较慢时再加 startupProbe。"),
                )


def _image_problem(image: str, pull_policy: str | None) -> str | None:
    # `auto` is the placeholder that Istio's injection replaces with its pinned proxy image.
    if DIGEST.search(image) or image == "auto":
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return t("has no tag, so it means `latest`", "没有标签, 等同于 `latest`")
    if last.endswith(":latest"):
        return t("uses the moving tag `latest`", "使用了会变化的标签 `latest`")
    if pull_policy == "Always":
        return t("is pulled with imagePullPolicy Always, so a re-pushed tag changes what runs",
                 "使用 imagePullPolicy Always, 标签被重新推送后运行的内容会变化")
    return None


@rule("image-pinned", Severity.ERROR, "Every image is pinned: a digest or an immutable tag, never `latest`.")
def image_pinned(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads():
        for _, container in _containers_named(workload):
            image = container.get("image", "")
            problem = _image_problem(image, container.get("imagePullPolicy"))
            if problem:
                yield Hit(
                    workload.resource,
                    t("container {name!r}: image {image!r} {problem}.", "容器 {name!r}: 镜像 {image!r} {problem}。").format(
                        name=container.get("name"), image=image, problem=problem),
                    t("Pin the image in the overlay's `images:` (a digest in prod) and use imagePullPolicy IfNotPresent.",
                      "在 overlay 的 `images:` 中固定镜像 (prod 用 digest), 并使用 imagePullPolicy IfNotPresent。"),
                )


def _budgets_for(ctx: Context, workload: Workload) -> list[Any]:
    return [
        pdb for pdb in ctx.of_kind("PodDisruptionBudget")
        if pdb.namespace == workload.resource.namespace and selector_matches(pdb.spec.get("selector"), workload.pod_labels)
    ]


@rule("pdb-missing", Severity.ERROR, "Every workload that runs more than one replica has a PodDisruptionBudget.")
def pdb_missing(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads():
        count = ctx.replica_count(workload.resource)
        if count is None or count < 2 or _budgets_for(ctx, workload):
            continue
        yield Hit(
            workload.resource,
            t("runs {count} replicas with no PodDisruptionBudget, so a node drain may evict all of them at once.",
              "运行 {count} 个副本却没有 PodDisruptionBudget, 节点排空时可能同时驱逐全部副本。").format(count=count),
            t("Add a PodDisruptionBudget with maxUnavailable: 1 and the workload's selector.",
              "添加 maxUnavailable: 1、选择器与该工作负载相同的 PodDisruptionBudget。"),
        )


def _allowed_disruptions(pdb: Any, count: int) -> int | None:
    spec = pdb.spec
    if "maxUnavailable" in spec:
        value = spec["maxUnavailable"]
        if isinstance(value, str) and value.endswith("%"):
            return math.ceil(count * int(value[:-1]) / 100)
        return int(value)
    if "minAvailable" in spec:
        value = spec["minAvailable"]
        if isinstance(value, str) and value.endswith("%"):
            return count - math.ceil(count * int(value[:-1]) / 100)
        return count - int(value)
    return None


@rule("pdb-blocks-drain", Severity.ERROR, "A PodDisruptionBudget allows at least one disruption at the workload's replica count.")
def pdb_blocks_drain(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads():
        count = ctx.replica_count(workload.resource)
        if count is None:
            continue
        for pdb in _budgets_for(ctx, workload):
            allowed = _allowed_disruptions(pdb, count)
            if allowed is None or allowed >= 1:
                continue
            yield Hit(
                pdb,
                t("allows {allowed} disruptions for {workload} at {count} replicas, which blocks every node drain.",
                  "在 {workload} 为 {count} 个副本时允许 {allowed} 次中断, 会阻塞所有节点排空。").format(
                    allowed=max(allowed, 0), workload=workload.resource.ref(), count=count),
                t("Use maxUnavailable: 1, or raise the replica count (the HPA's minReplicas when one scales it) above minAvailable.",
                  "改用 maxUnavailable: 1, 或把副本数 (有 HPA 时为其 minReplicas) 提高到 minAvailable 之上。"),
            )


@rule("hpa-replicas-set", Severity.ERROR, "A workload scaled by an HPA leaves spec.replicas unset.")
def hpa_replicas_set(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.of_kind(*SCALABLE_KINDS):
        if "replicas" in workload.spec and ctx.hpa_for(workload) is not None:
            yield Hit(
                workload,
                t("sets replicas: {count} while {hpa} scales it, so every apply resets the count the HPA chose.",
                  "在 {hpa} 伸缩它的同时设置了 replicas: {count}, 每次 apply 都会重置 HPA 选择的副本数。").format(
                    count=workload.spec["replicas"], hpa=ctx.hpa_for(workload).ref()),
                t("Remove spec.replicas from the workload in the base and in every overlay (including `replicas:` entries).",
                  "从 base 和所有 overlay 中删除该工作负载的 spec.replicas (包括 `replicas:` 条目)。"),
            )


@rule("hpa-resource-request", Severity.ERROR, "An HPA's resource metric has the matching request on every container it averages.")
def hpa_resource_request(ctx: Context) -> Iterator[Hit]:
    for hpa in ctx.of_kind("HorizontalPodAutoscaler"):
        target = hpa.spec.get("scaleTargetRef") or {}
        workload = ctx.find(target.get("kind", ""), target.get("name", ""), hpa.namespace)
        if workload is None:
            continue
        template = workload.spec.get("template") or {}
        containers = (template.get("spec") or {}).get("containers") or []
        # The HPA sums the requests of native sidecars (init containers with restartPolicy: Always) too.
        sidecars = [c for c in (template.get("spec") or {}).get("initContainers") or [] if c.get("restartPolicy") == "Always"]
        pods = Workload(workload, template)
        injected = sidecar_injection(ctx, pods) is True and not any(c.get("name") == "istio-proxy" for c in containers + sidecars)
        for metric in hpa.spec.get("metrics") or []:
            if metric.get("type") != "Resource":
                continue
            resource = (metric.get("resource") or {}).get("name")
            if ((metric.get("resource") or {}).get("target") or {}).get("type") != "Utilization":
                continue
            lacking = [c.get("name") for c in containers + sidecars if not _requests(c, resource)]
            if lacking:
                fix = t("Set resources.requests.{resource} on every container of {workload}.",
                        "为 {workload} 的每个容器设置 resources.requests.{resource}。")
                if any(c.get("name") in lacking for c in sidecars):
                    fix = t("Set resources.requests.{resource} on every container of {workload}, native sidecars "
                            "(init containers with restartPolicy: Always) included.",
                            "为 {workload} 的每个容器设置 resources.requests.{resource}, "
                            "包括原生 sidecar (restartPolicy: Always 的 init 容器)。")
                yield Hit(
                    hpa,
                    t("scales on {resource} utilization, but containers {lacking} request no {resource}, so the metric cannot be computed.",
                      "按 {resource} 利用率伸缩, 但容器 {lacking} 没有请求 {resource}, 无法计算该指标。").format(
                        resource=resource, lacking=lacking),
                    fix.format(resource=resource, workload=workload.ref()),
                )
            problem = proxy_request_problem(pods, resource) if injected else None
            if problem is not None:
                message, proxy_fix, severity = problem
                yield Hit(hpa, message, proxy_fix, severity)


def _requests(container: dict[str, Any], resource: str) -> bool:
    """Tell whether a container requests a resource, counting a limit that the API server copies into the request."""
    resources = container.get("resources") or {}
    return resource in (resources.get("requests") or {}) or resource in (resources.get("limits") or {})


def _tolerates_gpu(spec: dict[str, Any]) -> bool:
    for toleration in spec.get("tolerations") or []:
        if toleration.get("operator") == "Exists" and toleration.get("key") in (None, GPU_RESOURCE):
            return True
        if toleration.get("key") == GPU_RESOURCE:
            return True
    return False


@rule("gpu-scheduling", Severity.ERROR, "GPU pods request the device, select GPU nodes by label and tolerate the GPU taint.")
def gpu_scheduling(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads():
        spec = workload.pod_spec
        selector = spec.get("nodeSelector") or {}
        problems = []
        if GPU_RESOURCE in selector:
            problems.append(t("nodeSelector uses {r}, which is a resource name, not a node label",
                              "nodeSelector 使用了 {r}, 它是资源名而不是节点标签").format(r=GPU_RESOURCE))
        wants_gpu = False
        for _, container in _containers_named(workload):
            if any(v.get("name") == "CUDA_VISIBLE_DEVICES" for v in container.get("env") or []):
                problems.append(t("container {name!r} sets CUDA_VISIBLE_DEVICES, which overrides the device plugin's assignment",
                                  "容器 {name!r} 设置了 CUDA_VISIBLE_DEVICES, 会覆盖设备插件分配的 GPU").format(name=container.get("name")))
            resources = container.get("resources") or {}
            request = (resources.get("requests") or {}).get(GPU_RESOURCE)
            limit = (resources.get("limits") or {}).get(GPU_RESOURCE)
            if request is None and limit is None:
                continue
            wants_gpu = True
            if limit is None or (request is not None and str(request) != str(limit)):
                problems.append(t("container {name!r}: the GPU limit must be set and equal the request",
                                  "容器 {name!r}: GPU 的 limit 必须设置且等于 request").format(name=container.get("name")))
        if wants_gpu and not _tolerates_gpu(spec):
            problems.append(t("no toleration for the {r} taint", "没有容忍 {r} 污点").format(r=GPU_RESOURCE))
        if wants_gpu and selector.get(GPU_NODE_LABEL) != "true" and not (spec.get("affinity") or {}).get("nodeAffinity"):
            problems.append(t("no nodeSelector {label}: \"true\"", "没有 nodeSelector {label}: \"true\"").format(label=GPU_NODE_LABEL))
        if problems:
            yield Hit(
                workload.resource,
                t("cannot be scheduled onto GPU nodes as written: {problems}.", "按现有写法无法调度到 GPU 节点: {problems}。").format(
                    problems="; ".join(problems)),
                t("Request {r} in limits, select nodes with {label}: \"true\", tolerate {r} with operator Exists, and let the device plugin pick the device.",
                  "在 limits 中请求 {r}, 用 {label}: \"true\" 选择节点, 以 operator Exists 容忍 {r}, 由设备插件分配设备。").format(
                    r=GPU_RESOURCE, label=GPU_NODE_LABEL),
            )


def _pre_stop_seconds(container: dict[str, Any]) -> int | None:
    pre_stop = (container.get("lifecycle") or {}).get("preStop") or {}
    if "sleep" in pre_stop:
        return int(pre_stop["sleep"].get("seconds", 0))
    command = (pre_stop.get("exec") or {}).get("command") or []
    match = re.search(r"sleep\s+(\d+)", " ".join(command))
    return int(match.group(1)) if match else None


@rule("graceful-shutdown", Severity.WARNING, "Serving containers wait in preStop before SIGTERM, within the grace period.")
def graceful_shutdown(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads():
        if workload.resource.kind not in ("Deployment", "StatefulSet"):
            continue
        grace = int(workload.pod_spec.get("terminationGracePeriodSeconds", 30))
        for container in workload.pod_spec.get("containers") or []:
            if not container.get("ports"):
                continue
            delay = _pre_stop_seconds(container)
            if delay is not None and delay < grace:
                continue
            problem = (
                t("has no preStop delay, so it gets SIGTERM while endpoints still send it requests",
                  "没有 preStop 延迟, 在端点仍向其发送请求时就收到 SIGTERM")
                if delay is None else
                t("waits {delay}s in preStop, which uses up the {grace}s grace period",
                  "preStop 等待 {delay}s, 用尽了 {grace}s 的宽限期").format(delay=delay, grace=grace)
            )
            yield Hit(
                workload.resource,
                t("container {name!r} {problem}.", "容器 {name!r} {problem}。").format(name=container.get("name"), problem=problem),
                t("Add lifecycle.preStop.sleep of 5-15 s and keep terminationGracePeriodSeconds well above it.",
                  "添加 5-15 秒的 lifecycle.preStop.sleep, 并让 terminationGracePeriodSeconds 明显大于它。"),
            )


@rule("deployment-selector-overlap", Severity.ERROR, "No two workloads in a namespace select each other's pods.")
def selector_overlap(ctx: Context) -> Iterator[Hit]:
    workloads = [w for w in ctx.workloads() if w.resource.kind in SCALABLE_KINDS + ("DaemonSet",)]
    for index, first in enumerate(workloads):
        for second in workloads[index + 1:]:
            if first.resource.namespace != second.resource.namespace:
                continue
            if selector_matches(first.resource.spec.get("selector"), second.pod_labels) or selector_matches(
                second.resource.spec.get("selector"), first.pod_labels
            ):
                yield Hit(
                    second.resource,
                    t("its selector and that of {other} match each other's pods; the controllers would fight over them.",
                      "它与 {other} 的选择器互相匹配对方的 Pod; 两个控制器会争夺这些 Pod。").format(other=first.resource.ref()),
                    t("Give each workload a label the other lacks (for example `version`) and select on it.",
                      "给每个工作负载一个对方没有的标签 (例如 `version`), 并在选择器中使用它。"),
                )


@rule("secret-data-in-render", Severity.ERROR, "The render carries no Secret values unless they are marked as placeholders.")
def secret_data(ctx: Context) -> Iterator[Hit]:
    for secret in ctx.of_kind("Secret"):
        values = {**(secret.obj.get("data") or {}), **(secret.obj.get("stringData") or {})}
        filled = sorted(key for key, value in values.items() if value)
        if not filled or secret.annotations.get(PLACEHOLDER_ANNOTATION) == "true":
            continue
        yield Hit(
            secret,
            t("contains values for {keys}; whatever is rendered ends up in git or in CI logs.",
              "包含 {keys} 的值; 渲染出的内容会进入 git 或 CI 日志。").format(keys=", ".join(filled)),
            t("Write the Secret from an external store (an ExternalSecret), or annotate generated dev placeholders with {a}: \"true\".",
              "改由外部存储生成 Secret (ExternalSecret), 或给 dev 生成的占位值加注解 {a}: \"true\"。").format(a=PLACEHOLDER_ANNOTATION),
        )
