"""Load the earlier version of what `check` renders: from a git ref, or from the local cluster."""
from __future__ import annotations

import io
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from reck8s.errors import UsageError
from reck8s.i18n import t
from reck8s.model import Resource
from reck8s.render import Target, build_with_origins, parse_documents
from reck8s.rules.kustomize import IMMUTABLE_SELECTOR_KINDS
from reck8s.toolchain import Pins

Previous = dict[tuple[str, str, str], dict[str, Any]]


def _index(resources: list[Resource]) -> Previous:
    return {(r.kind, r.namespace, r.name): r.obj for r in resources}


def from_git(pins: Pins, ref: str, targets: list[Target]) -> dict[str, Previous]:
    """Render each target as it was at `ref` in its git repository, without touching the work tree."""
    previous: dict[str, Previous] = {}
    with tempfile.TemporaryDirectory(prefix="reck8s-against-") as scratch:
        extracted: dict[Path, Path] = {}
        for target in targets:
            if target.path is None:
                previous[target.name] = {}
                continue
            path = target.path.resolve()
            top = _git_toplevel(path if path.is_dir() else path.parent)
            if top not in extracted:
                extracted[top] = _extract(top, ref, Path(scratch) / str(len(extracted)))
            earlier = extracted[top] / path.relative_to(top)
            if target.folder is not None and earlier.is_dir():
                previous[target.name] = _index(build_with_origins(pins, earlier, extracted[top]))
            elif earlier.is_file():
                previous[target.name] = _index(parse_documents(earlier.read_text(), source=f"{ref}:{earlier}"))
            elif earlier.is_dir():
                files = sorted([*earlier.glob("*.yaml"), *earlier.glob("*.yml")])
                previous[target.name] = _index([r for f in files for r in parse_documents(f.read_text(), source=f"{ref}:{f}")])
            else:
                previous[target.name] = {}
    return previous


def _git_toplevel(folder: Path) -> Path:
    result = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise UsageError(
            t("`--against` with a git ref needs {folder} to be inside a git repository: {error}",
              "`--against` 使用 git 引用时, {folder} 必须位于 git 仓库中: {error}").format(
                folder=folder, error=result.stderr.strip())
        )
    return Path(result.stdout.strip()).resolve()


def _extract(top: Path, ref: str, destination: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(top), "archive", "--format=tar", ref], capture_output=True, check=False)
    if archive.returncode != 0:
        raise UsageError(
            t("cannot read git ref {ref!r} in {root}: {error}. Give a commit, branch or tag that exists, such as HEAD~1 or main.",
              "无法读取 {root} 中的 git 引用 {ref!r}: {error}。请给出存在的提交、分支或标签, 例如 HEAD~1 或 main。").format(
                ref=ref, root=top, error=archive.stderr.decode(errors="replace").strip())
        )
    destination.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(destination, filter="data")
    return destination


def from_cluster(cluster: Any, targets: list[Target]) -> dict[str, Previous]:
    """Fetch the live version of each workload whose selector cannot change."""
    if not cluster.exists() or cluster.dead_components():
        raise UsageError(
            t("`--against cluster` needs the running local cluster {name}. Start it with `reck8s --cluster {name} up`.",
              "`--against cluster` 需要正在运行的本地集群 {name}。请用 `reck8s --cluster {name} up` 启动。").format(name=cluster.name)
        )
    previous: dict[str, Previous] = {}
    for target in targets:
        live: Previous = {}
        for resource in target.resources:
            if resource.kind not in IMMUTABLE_SELECTOR_KINDS or not resource.namespace:
                continue
            result = cluster.kubectl("get", resource.kind.lower(), resource.name, "-n", resource.namespace,
                                     "-o", "json", "--ignore-not-found", check=True)
            if result.stdout.strip():
                live[(resource.kind, resource.namespace, resource.name)] = json.loads(result.stdout)
        previous[target.name] = live
    return previous
