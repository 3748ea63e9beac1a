"""Put environments onto the local cluster: validate, apply, wait for rollouts, report."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, TextIO

from reck8s.check import check_targets, load_contract
from reck8s.cluster import CLUSTER_NAME, Cluster, progress
from reck8s.errors import UsageError
from reck8s.i18n import t
from reck8s.model import Resource
from reck8s.render import environments, overlay_dir
from reck8s.report import print_table
from reck8s.toolchain import CLUSTER_TOOLS, Pins, load_pins, require_cluster_tools, require_schemas

ROLLOUT_TIMEOUT = "300s"
HPA_TIMEOUT_SECONDS = 90
ESTABLISHED_TIMEOUT = "120s"
INGRESS_CLASS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "IngressClass",
    "metadata": {"name": "nginx"},
    "spec": {"controller": "k8s.io/ingress-nginx"},
}


def command_for(cluster: Cluster, command: str) -> str:
    """Return the reck8s command line for this cluster, naming it unless it is the default."""
    if cluster.name == CLUSTER_NAME:
        return f"reck8s {command}"
    return f"reck8s --cluster {cluster.name} {command}"


def open_cluster(root: Path, name: str = CLUSTER_NAME) -> Cluster:
    return Cluster(name, require_cluster_tools(load_pins(root)))


def _cluster_for_removal(root: Path, name: str) -> Cluster:
    """Return the cluster with whatever tools exist: removal must work even after a failed build."""
    pins = load_pins(root)
    return Cluster(name, {tool.name: pins.binary(tool) for tool in CLUSTER_TOOLS})


def up(root: Path, envs: list[str], api_port: int | None = None, name: str = CLUSTER_NAME) -> int:
    pins = load_pins(root)
    cluster = Cluster(name, require_cluster_tools(pins))
    targets = envs or environments(root)

    # Validate every environment before anything is started or applied.
    renders = _render_and_check(pins, root, targets)

    _start(cluster, api_port)
    cluster.register_nodes()
    _install_platform(cluster, pins, renders)

    _apply(cluster, renders)
    for env, resources in renders.items():
        _wait_for_autoscalers(cluster, resources)
        _wait_for_rollouts(cluster, env, resources)

    print_status(cluster, [_namespace_of(r) for r in renders.values()], sys.stdout)
    print(t("\nkubectl: {kubectl} --kubeconfig {config}", "\nkubectl: {kubectl} --kubeconfig {config}").format(
        kubectl=cluster.tools["kubectl"], config=cluster.kubeconfig))
    return 0


def _render_and_check(pins: Pins, root: Path, envs: list[str]) -> dict[str, list[Resource]]:
    progress(t("rendering and checking {envs}", "正在渲染并检查 {envs}").format(envs=", ".join(envs)))
    for env in envs:
        overlay_dir(root, env)
    reports = check_targets(pins, root, envs)
    failed = [r for r in reports if r.errors]
    if failed:
        print_table(failed, sys.stderr)
        raise UsageError(
            t("{envs}: check found errors, so nothing was started or applied. Fix them (`reck8s check {envs}`) and run `up` again.",
              "{envs}: 检查发现错误, 因此没有启动或应用任何内容。请修复 (`reck8s check {envs}`) 后重新运行 `up`。").format(
                envs=" ".join(r.target for r in failed))
        )
    return {report.target: report.resources for report in reports}


def _start(cluster: Cluster, api_port: int | None) -> None:
    if cluster.exists():
        dead = cluster.dead_components()
        if dead:
            raise UsageError(
                t("cluster {name} is left over from an earlier run: these components are no longer running: {dead} ({dir}). Run `{down}` to remove it, then `up` again.",
                  "集群 {name} 是之前运行遗留的, 以下组件已不在运行: {dead} ({dir})。请运行 `{down}` 删除它, 然后重新运行 `up`。").format(
                    name=cluster.name, dead=", ".join(dead), dir=cluster.directory, down=command_for(cluster, "down"))
            )
        running_port = cluster.api_port()
        if api_port is not None and running_port != api_port:
            raise UsageError(
                t("cluster {name} is already running with kube-apiserver on port {running}; --api-port {port} applies only when `up` starts a cluster. Run `{down}` first, or leave out --api-port.",
                  "集群 {name} 已在运行, kube-apiserver 端口为 {running}; --api-port {port} 只在 `up` 启动集群时生效。请先运行 `{down}`, 或去掉 --api-port。").format(
                    name=cluster.name, running=running_port, port=api_port, down=command_for(cluster, "down"))
            )
        progress(t("cluster {name} is already running; applying to it again", "集群 {name} 已在运行; 将再次应用配置").format(
            name=cluster.name))
        return
    cluster.create(api_port)


def _install_platform(cluster: Cluster, pins: Pins, renders: dict[str, list[Resource]]) -> None:
    """Install what the platform team provides in a real cluster: CRDs, the IngressClass and volumes."""
    _, crd_files = require_schemas(pins)
    progress(t("installing {n} CRD files (the versions `check` validates against)",
               "正在安装 {n} 个 CRD 文件 (即 `check` 校验所用的版本)").format(n=len(crd_files)))
    # One kubectl run for all files: each run pays for kubectl's start and API discovery.
    files = [arg for path in crd_files for arg in ("-f", str(path))]
    cluster.kubectl("apply", "--server-side", "--field-manager=reck8s", *files)
    cluster.kubectl("wait", "--for=condition=Established", "crd", "--all", f"--timeout={ESTABLISHED_TIMEOUT}")

    volumes = [pv for resources in renders.values() for pv in volumes_for_claims(resources)]
    cluster.apply_objects([INGRESS_CLASS, *volumes])


def volumes_for_claims(resources: list[Resource]) -> list[dict[str, Any]]:
    """Return one pre-bound PersistentVolume per claim, standing in for the platform's storage.

    KWOK never mounts anything, so the hostPath is never used; the volume only
    lets the claim bind, as it would to the platform's ReadOnlyMany storage.
    """
    volumes = []
    for claim in resources:
        if claim.kind != "PersistentVolumeClaim":
            continue
        spec = claim.spec
        volumes.append({
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"{claim.namespace}-{claim.name}", "labels": {"app.kubernetes.io/managed-by": "reck8s"}},
            "spec": {
                "capacity": {"storage": spec["resources"]["requests"]["storage"]},
                "accessModes": spec["accessModes"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": spec.get("storageClassName", ""),
                "claimRef": {"namespace": claim.namespace, "name": claim.name},
                "hostPath": {"path": f"/var/lib/reck8s/{claim.namespace}/{claim.name}"},
            },
        })
    return volumes


def _apply(cluster: Cluster, renders: dict[str, list[Resource]]) -> None:
    """Apply every environment, after the API server has accepted all of them in a dry run."""
    namespaces = [r.obj for resources in renders.values() for r in resources if r.kind == "Namespace"]
    others = {env: [r.obj for r in resources if r.kind != "Namespace"] for env, resources in renders.items()}

    # The API server can dry-run objects only in a namespace that exists, so
    # the Namespaces go first. The dry runs then put everything else through
    # admission before any of it is stored.
    cluster.apply_objects(namespaces)
    for env, objects in others.items():
        progress(t("dry-running {env}: {n} objects, server-side", "正在 dry-run {env}: {n} 个对象, server-side").format(
            env=env, n=len(objects)))
        cluster.apply_objects(objects, dry_run=True)
    for env, objects in others.items():
        progress(t("applying {env}: {n} objects, server-side", "正在应用 {env}: {n} 个对象, server-side apply").format(
            env=env, n=len(objects)))
        cluster.apply_objects(objects)


def _wait_for_autoscalers(cluster: Cluster, resources: list[Resource]) -> None:
    """Wait until each HPA has raised its target to minReplicas.

    A Deployment without `replicas` starts with one pod; the HPA then scales
    it to minReplicas on its next sync, even with no metrics available.
    """
    for hpa in resources:
        if hpa.kind != "HorizontalPodAutoscaler":
            continue
        target = hpa.spec["scaleTargetRef"]
        minimum = int(hpa.spec.get("minReplicas", 1))
        deadline = time.monotonic() + HPA_TIMEOUT_SECONDS
        while True:
            scale = cluster.kubectl_json("get", f"{target['kind'].lower()}/{target['name']}", "-n", hpa.namespace)
            if scale["spec"].get("replicas", 1) >= minimum:
                break
            if time.monotonic() > deadline:
                raise UsageError(
                    t("{ref} did not scale {target} to its minReplicas {n} within {s} s; check `kubectl describe hpa`.",
                      "{ref} 未在 {s} 秒内把 {target} 扩到 minReplicas {n}; 请查看 `kubectl describe hpa`。").format(
                        ref=hpa.ref(), target=target["name"], n=minimum, s=HPA_TIMEOUT_SECONDS)
                )
            time.sleep(1)


def _wait_for_rollouts(cluster: Cluster, env: str, resources: list[Resource]) -> None:
    for resource in resources:
        if resource.kind not in ("Deployment", "StatefulSet", "DaemonSet"):
            continue
        progress(t("waiting for {ref} to roll out", "正在等待 {ref} 完成发布").format(ref=resource.ref()))
        result = cluster.kubectl(
            "rollout", "status", f"{resource.kind.lower()}/{resource.name}", "-n", resource.namespace,
            f"--timeout={ROLLOUT_TIMEOUT}", check=False, timeout=600,
        )
        if result.returncode != 0:
            events = cluster.kubectl("get", "events", "-n", resource.namespace, "--sort-by=.lastTimestamp", check=False).stdout
            raise UsageError(
                t("{ref} did not become ready within {timeout}: {error}\nRecent events in {ns}:\n{events}",
                  "{ref} 未在 {timeout} 内就绪: {error}\n{ns} 中最近的事件:\n{events}").format(
                    ref=resource.ref(), timeout=ROLLOUT_TIMEOUT, error=result.stderr.strip(),
                    ns=resource.namespace, events="\n".join(events.splitlines()[-15:]))
            )


def _namespace_of(resources: list[Resource]) -> str:
    for resource in resources:
        if resource.kind == "Namespace":
            return resource.name
    return resources[0].namespace


def status(root: Path, name: str = CLUSTER_NAME) -> int:
    cluster = open_cluster(root, name)
    if not cluster.exists():
        raise UsageError(
            t("there is no cluster {name}. Start it with `{up}`.", "没有集群 {name}。请用 `{up}` 启动。").format(
                name=cluster.name, up=command_for(cluster, "up"))
        )
    dead = cluster.dead_components()
    if dead:
        raise UsageError(
            t("cluster {name} is not running: these components stopped: {dead}. Run `{down}`, then `{up}`.",
              "集群 {name} 未在运行: 以下组件已停止: {dead}。请先运行 `{down}`, 再运行 `{up}`。").format(
                name=cluster.name, dead=", ".join(dead), down=command_for(cluster, "down"), up=command_for(cluster, "up"))
        )
    contract = load_contract(root)
    namespaces = [ns for ns in contract["namespaces"] if cluster.kubectl("get", "namespace", ns, check=False).returncode == 0]
    print_status(cluster, namespaces, sys.stdout)
    return 0


def print_status(cluster: Cluster, namespaces: list[str], out: TextIO) -> None:
    zones = {
        node["metadata"]["name"]: node["metadata"].get("labels", {}).get("topology.kubernetes.io/zone", "-")
        for node in cluster.kubectl_json("get", "nodes")["items"]
    }
    rows = [("NAMESPACE", "WORKLOAD", "READY", "POD", "NODE", "ZONE")]
    for namespace in namespaces:
        deployments = cluster.kubectl_json("get", "deployments", "-n", namespace)["items"]
        pods = cluster.kubectl_json("get", "pods", "-n", namespace)["items"]
        for deployment in deployments:
            selector = deployment["spec"]["selector"].get("matchLabels", {})
            ready = f"{deployment['status'].get('readyReplicas', 0)}/{deployment['spec'].get('replicas', 0)}"
            owned = [p for p in pods if all(p["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())]
            if not owned:
                rows.append((namespace, f"deployment/{deployment['metadata']['name']}", ready, "-", "-", "-"))
            for pod in sorted(owned, key=lambda p: p["metadata"]["name"]):
                node = pod["spec"].get("nodeName", "-")
                rows.append((namespace, f"deployment/{deployment['metadata']['name']}", ready,
                             pod["metadata"]["name"], node, zones.get(node, "-")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")


def down(root: Path, name: str = CLUSTER_NAME) -> int:
    cluster = _cluster_for_removal(root, name)
    if not cluster.exists():
        progress(t("no cluster {name}; nothing to remove", "没有集群 {name}; 无需删除").format(name=cluster.name))
        return 0
    cluster.delete()
    progress(t("removed cluster {name} and its files in {dir}", "已删除集群 {name} 及其文件 ({dir})").format(
        name=cluster.name, dir=cluster.directory))
    return 0
