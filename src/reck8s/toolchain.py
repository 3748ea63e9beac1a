"""The pinned tools and schemas: where they live in the cache and how to get them.

Versions come from the repository's `tools/` folder: `go.mod` pins kustomize
and `schemas.yaml` pins the schema modules. Everything built or fetched goes
under the cache folder, outside the clone, keyed by version, so a second run
reuses it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from reck8s.errors import UsageError
from reck8s.i18n import t

KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"
KUSTOMIZE_VERSION_VAR = "sigs.k8s.io/kustomize/api/provenance.version"
GO_INSTALL_HINT = "install Go 1.26 or newer (https://go.dev/dl/) and put `go` on PATH"


def cache_dir() -> Path:
    configured = os.environ.get("RECK8S_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reck8s"


@dataclass(frozen=True)
class Pins:
    tools_dir: Path
    kustomize_version: str
    kubernetes_module: str
    kubernetes_version: str
    openapi_path: str
    crd_modules: tuple[tuple[str, str, tuple[str, ...]], ...]

    @property
    def kustomize_binary(self) -> Path:
        return cache_dir() / "bin" / f"kustomize-{self.kustomize_version}"

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

    match = re.search(rf"^\s*{re.escape(KUSTOMIZE_MODULE)}\s+(v\S+)", go_mod_text, re.MULTILINE)
    if not match:
        raise UsageError(
            t(
                "{file} does not require {module}; restore the `tool` line and run `go mod tidy` there.",
                "{file} 中没有 {module} 的版本; 请恢复 `tool` 行并在该目录运行 `go mod tidy`。",
            ).format(file=go_mod, module=KUSTOMIZE_MODULE)
        )

    kubernetes = spec["kubernetes"]
    crds = tuple(
        (entry["module"], entry["version"], tuple(entry["files"])) for entry in spec["crds"]
    )
    return Pins(
        tools_dir=tools_dir,
        kustomize_version=match.group(1),
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


def build_kustomize(pins: Pins) -> Path:
    binary = pins.kustomize_binary
    if binary.exists():
        _progress(t("kustomize {v} already built", "kustomize {v} 已构建").format(v=pins.kustomize_version))
        return binary

    _progress(
        t("building kustomize {v} from its Go module (about a minute on 2 cores)",
          "正在从 Go 模块构建 kustomize {v} (2 核约需一分钟)").format(v=pins.kustomize_version)
    )
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(".partial")
    ldflags = f"-X {KUSTOMIZE_VERSION_VAR}={pins.kustomize_version}"
    _run_go(["build", "-trimpath", "-ldflags", ldflags, "-o", str(partial), KUSTOMIZE_MODULE], pins.tools_dir)
    # Rename only a finished build, so an interrupted one is never mistaken for it.
    partial.rename(binary)
    return binary


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


def setup(root: Path) -> None:
    pins = load_pins(root)
    build_kustomize(pins)
    fetch_schemas(pins)
    _progress(t("done; cache: {dir}", "完成; 缓存目录: {dir}").format(dir=cache_dir()))
