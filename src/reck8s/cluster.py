"""The local cluster: a real etcd, kube-apiserver, controller manager and scheduler,
started by kwokctl's binary runtime from the pinned builds, with KWOK simulating
the nodes and the pods' status.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reck8s.errors import UsageError
from reck8s.i18n import t
from reck8s.toolchain import cache_dir

CLUSTER_NAME = "reck8s"
ZONES = ("zone-a", "zone-b", "zone-c")
CPU_NODES_PER_ZONE = 3
GPU_NODES_PER_ZONE = 1
GPUS_PER_NODE = 4
# Everything listens on loopback only.
BIND_ADDRESS = "127.0.0.1"
CREATE_TIMEOUT = "120s"


def progress(message: str) -> None:
    print(f"reck8s: {message}", file=sys.stderr, flush=True)


@dataclass
class Cluster:
    name: str
    tools: dict[str, Path]

    @property
    def workdir(self) -> Path:
        """KWOK_WORKDIR: kwokctl keeps each cluster's files, logs and pids below it."""
        return cache_dir() / "kwok"

    @property
    def directory(self) -> Path:
        return self.workdir / "clusters" / self.name

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig.yaml"

    def _env(self) -> dict[str, str]:
        return dict(os.environ, KWOK_WORKDIR=str(self.workdir))

    def kwokctl(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.tools["kwokctl"]), *args, "--name", self.name],
            env=self._env(), capture_output=True, text=True, timeout=timeout, check=False,
        )

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.tools["kubectl"]), "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin, capture_output=True, text=True, timeout=timeout, check=False,
        )
        if check and result.returncode != 0:
            raise UsageError(
                t("`kubectl {args}` failed:\n{stderr}", "`kubectl {args}` 失败:\n{stderr}").format(
                    args=" ".join(args), stderr=result.stderr.strip())
            )
        return result

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    # Lifecycle

    def exists(self) -> bool:
        return self.directory.exists()

    def api_port(self) -> int | None:
        """Return the port kube-apiserver listens on, from the kubeconfig kwokctl wrote."""
        try:
            config = yaml.safe_load(self.kubeconfig.read_text())
            server = config["clusters"][0]["cluster"]["server"]
        except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError):
            return None
        return int(server.rsplit(":", 1)[1]) if server.rsplit(":", 1)[-1].isdigit() else None

    def pids(self) -> dict[str, int]:
        found = {}
        for path in sorted((self.directory / "pids").glob("*.pid")):
            try:
                found[path.stem] = int(path.read_text().strip())
            except (OSError, ValueError):
                continue
        return found

    def dead_components(self) -> list[str]:
        """Return the components whose recorded process is gone."""
        pids = self.pids()
        if not pids:
            return ["etcd", "kube-apiserver"]
        return [name for name, pid in pids.items() if not self._owns(pid)]

    def _owns(self, pid: int) -> bool:
        """Tell whether a live process is one of this cluster's, not a reused PID."""
        if not _alive(pid):
            return False
        try:
            command_line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        return str(self.directory) in command_line

    def create(self, api_port: int | None) -> None:
        if api_port is not None and not port_free(api_port):
            raise UsageError(
                t("port {port} on {addr} is already in use, so kube-apiserver cannot listen there. Pick another with --api-port, or stop what uses it (`ss -ltnp 'sport = :{port}'` shows it).",
                  "{addr} 上的端口 {port} 已被占用, kube-apiserver 无法监听。请用 --api-port 换一个端口, 或停止占用它的进程 (`ss -ltnp 'sport = :{port}'` 可查看)。").format(
                    port=api_port, addr=BIND_ADDRESS)
            )

        config = self._write_config(api_port)
        progress(t("starting cluster {name}: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok-controller",
                   "正在启动集群 {name}: etcd、kube-apiserver、kube-controller-manager、kube-scheduler 和 kwok-controller").format(
            name=self.name))
        result = self.kwokctl(
            "create", "cluster", "--config", str(config),
            "--kubeconfig", str(self.workdir / f"{self.name}.kubeconfig"),
            "--wait", CREATE_TIMEOUT,
        )
        if result.returncode != 0:
            log = _tail(result.stderr)
            # Stop whatever did start, so no half-started processes remain.
            self.delete()
            raise UsageError(
                t("the cluster failed to start; everything it started was stopped again. kwokctl said:\n{log}",
                  "集群启动失败; 已停止所有已启动的进程。kwokctl 输出:\n{log}").format(log=log)
            )

    def _write_config(self, api_port: int | None) -> Path:
        options: dict[str, Any] = {
            "runtime": "binary",
            "bindAddress": BIND_ADDRESS,
            "kubeApiserverBinary": str(self.tools["kube-apiserver"]),
            "kubeControllerManagerBinary": str(self.tools["kube-controller-manager"]),
            "kubeSchedulerBinary": str(self.tools["kube-scheduler"]),
            "kubectlBinary": str(self.tools["kubectl"]),
            "etcdBinary": str(self.tools["etcd"]),
            "kwokControllerBinary": str(self.tools["kwok"]),
        }
        if api_port is not None:
            options["kubeApiserverPort"] = api_port
        config = {
            "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
            "kind": "KwokctlConfiguration",
            "options": options,
            # The HPA controller checks every 15 s by default; 5 s makes a new
            # Deployment reach its HPA's minReplicas sooner after `up`.
            "componentsPatches": [{
                "name": "kube-controller-manager",
                "extraArgs": [{"key": "horizontal-pod-autoscaler-sync-period", "value": "5s"}],
            }],
        }
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / f"{self.name}.config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def delete(self) -> None:
        """Stop every component by the PID kwokctl recorded, then remove the cluster's files."""
        if self.exists() and "kwokctl" in self.tools and self.tools["kwokctl"].exists():
            self.kwokctl("delete", "cluster")
        for pid in self.pids().values():
            if self._owns(pid):
                os.kill(pid, 15)
        shutil.rmtree(self.directory, ignore_errors=True)
        for leftover in (self.workdir / f"{self.name}.config.yaml", self.workdir / f"{self.name}.kubeconfig"):
            leftover.unlink(missing_ok=True)
        # Remove the shared folders too once the last cluster is gone.
        for folder in (self.workdir / "clusters", self.workdir):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    # Nodes

    def register_nodes(self) -> None:
        progress(t("registering {cpu} CPU and {gpu} GPU nodes in {zones} zones",
                   "正在注册 {cpu} 个 CPU 节点和 {gpu} 个 GPU 节点, 分布在 {zones} 个可用区").format(
            cpu=len(ZONES) * CPU_NODES_PER_ZONE, gpu=len(ZONES) * GPU_NODES_PER_ZONE, zones=len(ZONES)))
        documents = [*cpu_nodes(), *gpu_nodes()]
        self.apply_objects(documents)

    def apply_objects(self, documents: list[dict[str, Any]], dry_run: bool = False) -> str:
        args = ["apply", "--server-side", "--field-manager=reck8s", "-f", "-"]
        if dry_run:
            args.append("--dry-run=server")
        text = yaml.safe_dump_all(documents, sort_keys=False)
        return self.kubectl(*args, stdin=text).stdout


def _node(name: str, zone: str, labels: dict[str, str], allocatable: dict[str, str], taints: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            # KWOK manages the status of nodes that carry this annotation.
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/zone": zone,
                "topology.kubernetes.io/region": "local",
                "type": "kwok",
                **labels,
            },
        },
        "spec": {"taints": taints} if taints else {},
        "status": {"allocatable": allocatable, "capacity": allocatable},
    }


def cpu_nodes() -> list[dict[str, Any]]:
    nodes = []
    for zone in ZONES:
        for index in range(1, CPU_NODES_PER_ZONE + 1):
            nodes.append(_node(
                f"cpu-{zone}-{index}", zone, {"node.kubernetes.io/instance-type": "cpu-16"},
                {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "200Gi"}, [],
            ))
    return nodes


def gpu_nodes() -> list[dict[str, Any]]:
    """Return GPU nodes labelled and tainted the way NVIDIA's GPU feature discovery and operator do."""
    nodes = []
    for zone in ZONES:
        for index in range(1, GPU_NODES_PER_ZONE + 1):
            nodes.append(_node(
                f"gpu-{zone}-{index}", zone,
                {
                    "node.kubernetes.io/instance-type": "gpu-a100x4",
                    "nvidia.com/gpu.present": "true",
                    "nvidia.com/gpu.count": str(GPUS_PER_NODE),
                    "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
                    "nvidia.com/gpu.memory": "81920",
                },
                {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "500Gi",
                 "nvidia.com/gpu": str(GPUS_PER_NODE)},
                [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}],
            ))
    return nodes


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((BIND_ADDRESS, port))
        except OSError:
            return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Signal 0 also succeeds for a zombie, so the state in /proc decides whether it has exited.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state != "Z"


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
