"""The pinned tools and schemas: where they live in the cache and how to get them.

Versions come from the repository's `tools/` folder: `go.mod` pins the
upstream tools (kustomize, the Kubernetes control plane, kubectl, etcd and
KWOK) and `schemas.yaml` pins the schema modules. Everything built or
fetched goes under the cache folder, outside the clone, keyed by version, so
a second run reuses it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from reck8s.errors import UsageError
from reck8s.i18n import t

KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"
KUBERNETES_MODULE = "k8s.io/kubernetes"
ETCD_MODULE = "go.etcd.io/etcd/server/v3"
KWOK_MODULE = "sigs.k8s.io/kwok"
GO_INSTALL_HINT = "install Go 1.26 or newer (https://go.dev/dl/) and put `go` on PATH"
HEARTBEAT_SECONDS = 30


@dataclass(frozen=True)
class Tool:
    """An upstream binary built from a Go package of a pinned module."""

    name: str
    package: str
    module: str

    def ldflags(self, version: str) -> str:
        # Binaries built outside the upstream release scripts report v0.0.0
        # unless the build sets their version, which kubectl's skew check and kwokctl read.
        if self.module == KUBERNETES_MODULE:
            major, minor = version.lstrip("v").split(".")[:2]
            variables = {
                "k8s.io/component-base/version.gitVersion": version,
                "k8s.io/component-base/version.gitMajor": major,
                "k8s.io/component-base/version.gitMinor": minor,
                "k8s.io/component-base/version.gitTreeState": "clean",
                "k8s.io/client-go/pkg/version.gitVersion": version,
                "k8s.io/client-go/pkg/version.gitMajor": major,
                "k8s.io/client-go/pkg/version.gitMinor": minor,
            }
        elif self.module == KUSTOMIZE_MODULE:
            variables = {"sigs.k8s.io/kustomize/api/provenance.version": version}
        else:
            # etcd keeps its version in source, and KWOK reads its own from the
            # module build information.
            variables = {}
        return " ".join(f"-X {name}={value}" for name, value in variables.items())


KUSTOMIZE = Tool("kustomize", KUSTOMIZE_MODULE, KUSTOMIZE_MODULE)
CLUSTER_TOOLS = (
    Tool("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver", KUBERNETES_MODULE),
    Tool("kube-controller-manager", "k8s.io/kubernetes/cmd/kube-controller-manager", KUBERNETES_MODULE),
    Tool("kube-scheduler", "k8s.io/kubernetes/cmd/kube-scheduler", KUBERNETES_MODULE),
    Tool("kubectl", "k8s.io/kubernetes/cmd/kubectl", KUBERNETES_MODULE),
    Tool("etcd", ETCD_MODULE, ETCD_MODULE),
    Tool("kwok", "sigs.k8s.io/kwok/cmd/kwok", KWOK_MODULE),
    Tool("kwokctl", "sigs.k8s.io/kwok/cmd/kwokctl", KWOK_MODULE),
)


def cache_dir() -> Path:
    configured = os.environ.get("RECK8S_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reck8s"


@dataclass(frozen=True)
class Pins:
    tools_dir: Path
    module_versions: dict[str, str]
    kubernetes_module: str
    kubernetes_version: str
    openapi_path: str
    crd_modules: tuple[tuple[str, str, tuple[str, ...]], ...]

    @property
    def kustomize_version(self) -> str:
        return self.module_versions[KUSTOMIZE_MODULE]

    @property
    def kubernetes_tools_version(self) -> str:
        return self.module_versions[KUBERNETES_MODULE]

    def binary(self, tool: Tool) -> Path:
        return cache_dir() / "bin" / f"{tool.name}-{self.module_versions[tool.module]}"

    @property
    def kustomize_binary(self) -> Path:
        return self.binary(KUSTOMIZE)

    @property
    def schema_dir(self) -> Path:
        return cache_dir() / "schemas" / f"kubernetes-{self.kubernetes_version}"

    @property
    def openapi_dir(self) -> Path:
        return self.schema_dir / "openapi"

    def crd_dir(self, module: str, version: str) -> Path:
        return cache_dir() / "schemas" / "crds" / f"{module.replace('/', '_')}@{version}"

    def crd_files(self) -> list[Path]:
        files = []
        for module, version, paths in self.crd_modules:
            for path in paths:
                files.append(self.crd_dir(module, version) / Path(path).name)
        return files


def load_pins(root: Path) -> Pins:
    tools_dir = root / "tools"
    go_mod = tools_dir / "go.mod"
    schemas = tools_dir / "schemas.yaml"
    try:
        go_mod_text = go_mod.read_text()
        spec = yaml.safe_load(schemas.read_text())
    except OSError as error:
        raise UsageError(
            t(
                "cannot read the tool pins: {error}. Run reck8s from a clone of the repository.",
                "无法读取工具版本文件: {error}。请在仓库的克隆目录中运行 reck8s。",
            ).format(error=error)
        ) from error

    versions = {}
    for module in (KUSTOMIZE_MODULE, KUBERNETES_MODULE, ETCD_MODULE, KWOK_MODULE):
        match = re.search(rf"^\s*{re.escape(module)}\s+(v\S+)", go_mod_text, re.MULTILINE)
        if not match:
            raise UsageError(
                t(
                    "{file} does not require {module}; restore its `tool` line and run `go mod tidy` in {folder}.",
                    "{file} 中没有 {module} 的版本; 请恢复它的 `tool` 行并在 {folder} 中运行 `go mod tidy`。",
                ).format(file=go_mod, module=module, folder=tools_dir)
            )
        versions[module] = match.group(1)

    kubernetes = spec["kubernetes"]
    crds = tuple(
        (entry["module"], entry["version"], tuple(entry["files"])) for entry in spec["crds"]
    )
    return Pins(
        tools_dir=tools_dir,
        module_versions=versions,
        kubernetes_module=kubernetes["module"],
        kubernetes_version=kubernetes["version"],
        openapi_path=kubernetes["openapi"],
        crd_modules=crds,
    )


def require_kustomize(pins: Pins) -> Path:
    binary = pins.kustomize_binary
    if not binary.exists():
        raise UsageError(
            t(
                "kustomize {version} is not installed at {path}. Run `make setup` to build it.",
                "kustomize {version} 未安装在 {path}。请运行 `make setup` 构建。",
            ).format(version=pins.kustomize_version, path=binary)
        )
    return binary


def require_schemas(pins: Pins) -> tuple[Path, list[Path]]:
    missing = [p for p in [pins.openapi_dir, *pins.crd_files()] if not p.exists()]
    if missing:
        raise UsageError(
            t(
                "schema files are missing, first {path}. Run `make setup` to fetch them.",
                "缺少 schema 文件, 第一个是 {path}。请运行 `make setup` 获取。",
            ).format(path=missing[0])
        )
    return pins.openapi_dir, pins.crd_files()


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise UsageError(
            t(
                "the Go toolchain is not on PATH; {hint}.",
                "PATH 中没有 Go 工具链; 请安装 Go 1.26 或更新版本 (https://go.dev/dl/) 并把 `go` 加入 PATH。",
            ).format(hint=GO_INSTALL_HINT)
        )
    return go


def _progress(message: str) -> None:
    print(f"reck8s setup: {message}", file=sys.stderr, flush=True)


def _run_go(args: list[str], cwd: Path) -> str:
    env = dict(os.environ, GOFLAGS="-mod=readonly", GOTOOLCHAIN="local")
    result = subprocess.run(
        [_go(), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise UsageError(
            t(
                "`go {args}` failed in {cwd}:\n{stderr}\nCheck that the Go module proxy is reachable and rerun `make setup`.",
                "在 {cwd} 中执行 `go {args}` 失败:\n{stderr}\n请确认能访问 Go 模块代理, 然后重新运行 `make setup`。",
            ).format(args=" ".join(args), cwd=cwd, stderr=result.stderr.strip())
        )
    return result.stdout


def build_tool(pins: Pins, tool: Tool, position: str = "") -> Path:
    """Build one pinned tool into the cache, unless it is there already."""
    binary = pins.binary(tool)
    version = pins.module_versions[tool.module]
    if binary.exists():
        _progress(t("{name} {v} already built", "{name} {v} 已构建").format(name=tool.name, v=version))
        return binary

    _progress(t("building {name} {v} from {package} {position}",
                "正在从 {package} 构建 {name} {v} {position}").format(
        name=tool.name, v=version, package=tool.package, position=position))
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_name(binary.name + ".partial")
    args = ["build", "-v", "-trimpath", "-ldflags", tool.ldflags(version), "-o", str(partial), tool.package]
    started = time.monotonic()
    _run_go_with_heartbeat(args, pins.tools_dir, tool.name)
    # Rename only a finished build, so an interrupted one is never mistaken for it.
    partial.rename(binary)
    _progress(t("built {name} in {s:.0f} s", "{name} 构建完成, 用时 {s:.0f} 秒").format(
        name=tool.name, s=time.monotonic() - started))
    return binary


def _run_go_with_heartbeat(args: list[str], cwd: Path, name: str) -> None:
    """Run a long `go build -v`, printing how many packages it has compiled every 30 s."""
    env = dict(os.environ, GOFLAGS="-mod=readonly", GOTOOLCHAIN="local")
    process = subprocess.Popen(
        [_go(), *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    lines: list[str] = []
    started = last = time.monotonic()
    try:
        for line in process.stderr:
            lines.append(line)
            now = time.monotonic()
            if now - last >= HEARTBEAT_SECONDS:
                last = now
                _progress(t("  still building {name}: {n} packages compiled in {s:.0f} s",
                            "  仍在构建 {name}: 已编译 {n} 个包, 用时 {s:.0f} 秒").format(
                    name=name, n=len(lines), s=now - started))
    finally:
        returncode = process.wait()
    if returncode != 0:
        # `go build -v` mixes package names with the errors; the errors come last.
        tail = "".join(lines[-40:]).strip()
        raise UsageError(
            t(
                "building {name} failed (`go {args}` in {cwd}):\n{tail}\nNothing was installed; fix the cause and rerun `make setup`.",
                "构建 {name} 失败 (在 {cwd} 中执行 `go {args}`):\n{tail}\n未安装任何内容; 请排除原因后重新运行 `make setup`。",
            ).format(name=name, args=" ".join(args), cwd=cwd, tail=tail)
        )


def build_kustomize(pins: Pins) -> Path:
    return build_tool(pins, KUSTOMIZE)


def build_cluster_tools(pins: Pins) -> dict[str, Path]:
    """Build the control plane, kubectl, etcd and KWOK, skipping those already in the cache."""
    missing = [tool for tool in CLUSTER_TOOLS if not pins.binary(tool).exists()]
    if missing:
        _progress(t(
            "building {n} cluster tools from source; the first build took 6 minutes on 2 fast cores and can take 30 on slower ones; later runs reuse the cache",
            "正在从源码构建 {n} 个集群工具; 首次构建在 2 个快速核心上用时 6 分钟, 较慢的机器可能需要 30 分钟; 之后复用缓存").format(n=len(missing)))
    built = {}
    for index, tool in enumerate(CLUSTER_TOOLS, start=1):
        built[tool.name] = build_tool(pins, tool, f"({index}/{len(CLUSTER_TOOLS)})")
    return built


def require_cluster_tools(pins: Pins) -> dict[str, Path]:
    missing = [tool.name for tool in CLUSTER_TOOLS if not pins.binary(tool).exists()]
    if missing:
        raise UsageError(
            t("the cluster tools {names} are not built in {folder}. Run `make setup` to build them.",
              "集群工具 {names} 尚未构建 (应在 {folder} 中)。请运行 `make setup` 构建。").format(
                names=", ".join(missing), folder=cache_dir() / "bin")
        )
    return {tool.name: pins.binary(tool) for tool in CLUSTER_TOOLS}


def _download_module(module: str, version: str, cwd: Path) -> Path:
    output = _run_go(["mod", "download", "-json", f"{module}@{version}"], cwd)
    info = json.loads(output)
    if info.get("Error"):
        raise UsageError(
            t("cannot download {m}@{v}: {e}", "无法下载 {m}@{v}: {e}").format(
                m=module, v=version, e=info["Error"]
            )
        )
    return Path(info["Dir"])


def fetch_schemas(pins: Pins) -> None:
    if not pins.openapi_dir.exists():
        _progress(
            t("fetching the Kubernetes {v} OpenAPI documents from {m}",
              "正在从 {m} 获取 Kubernetes {v} 的 OpenAPI 文档").format(
                v=pins.kubernetes_version, m=pins.kubernetes_module)
        )
        source = _download_module(pins.kubernetes_module, pins.kubernetes_version, pins.tools_dir)
        _copy_tree(source / pins.openapi_path, pins.openapi_dir)

    for module, version, paths in pins.crd_modules:
        target = pins.crd_dir(module, version)
        if all((target / Path(p).name).exists() for p in paths):
            continue
        _progress(t("fetching CRDs from {m}@{v}", "正在从 {m}@{v} 获取 CRD").format(m=module, v=version))
        source = _download_module(module, version, pins.tools_dir)
        target.mkdir(parents=True, exist_ok=True)
        for path in paths:
            shutil.copyfile(source / path, target / Path(path).name)


def _copy_tree(source: Path, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial)
    # Module cache files are read-only; the cached copy should be removable.
    for path in partial.rglob("*"):
        path.chmod(0o644 if path.is_file() else 0o755)
    partial.chmod(0o755)
    partial.rename(target)


def setup(root: Path, cluster_tools: bool = True) -> None:
    pins = load_pins(root)
    build_kustomize(pins)
    fetch_schemas(pins)
    if cluster_tools:
        build_cluster_tools(pins)
    _progress(t("done; cache: {dir}", "完成; 缓存目录: {dir}").format(dir=cache_dir()))
