"""Render an environment or a path into objects, each tagged with its source file."""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import yaml

from reck8s.errors import UsageError
from reck8s.i18n import t
from reck8s.model import Resource
from reck8s.toolchain import Pins, require_kustomize

OVERLAYS = Path("devops/kubernetes/overlays")
CONTRACT = Path("devops/interfaces.yaml")
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# libyaml's parser is several times faster than the pure-Python one when present.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def find_root(start: Path | None = None) -> Path:
    """Find the repository root: the nearest folder, upward, with the contract file."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONTRACT).is_file():
            return folder
    raise UsageError(
        t(
            "no {contract} found in {here} or above. Run reck8s inside a clone of the repository.",
            "在 {here} 及其上级目录中找不到 {contract}。请在仓库的克隆目录中运行 reck8s。",
        ).format(contract=CONTRACT, here=here)
    )


def environments(root: Path) -> list[str]:
    folder = root / OVERLAYS
    return sorted(p.name for p in folder.iterdir() if _is_kustomization(p))


def overlay_dir(root: Path, env: str) -> Path:
    known = environments(root)
    if env not in known:
        raise UsageError(
            t(
                "unknown environment {env!r}: no kustomization in {folder}. Known environments: {known}.",
                "未知环境 {env!r}: {folder} 中没有 kustomization。已有环境: {known}。",
            ).format(env=env, folder=root / OVERLAYS / env, known=", ".join(known))
        )
    return root / OVERLAYS / env


def _is_kustomization(folder: Path) -> bool:
    return folder.is_dir() and any((folder / name).is_file() for name in KUSTOMIZATION_FILES)


def kustomize_build(pins: Pins, folder: Path) -> str:
    """Run the pinned `kustomize build` on a folder and return the YAML."""
    binary = require_kustomize(pins)
    result = subprocess.run(
        [str(binary), "build", str(folder)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise UsageError(_kustomize_failure(folder, result.stderr))
    return result.stdout


def _kustomize_failure(folder: Path, stderr: str) -> str:
    return t(
        "kustomize build failed for {folder}:\n  {stderr}\nFix the file named above, then run `kustomize build {folder}` to confirm.",
        "kustomize build 失败 ({folder}):\n  {stderr}\n请修正上面指出的文件, 然后运行 `kustomize build {folder}` 确认。",
    ).format(folder=folder, stderr=stderr.strip().replace("\n", "\n  "))


def build_with_origins(pins: Pins, folder: Path, root: Path) -> list[Resource]:
    """Build a kustomization and record which file defined each object.

    A throwaway kustomization beside the target turns on kustomize's origin
    annotations, so the user's files stay unchanged; the annotation is removed
    again from every object.
    """
    binary = require_kustomize(pins)
    with tempfile.TemporaryDirectory(prefix="reck8s-") as wrapper:
        relative = os.path.relpath(folder.resolve(), wrapper)
        Path(wrapper, "kustomization.yaml").write_text(
            "apiVersion: kustomize.config.k8s.io/v1beta1\n"
            "kind: Kustomization\n"
            "buildMetadata: [originAnnotations]\n"
            f"resources:\n  - {relative}\n"
        )
        result = subprocess.run(
            [str(binary), "build", wrapper], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise UsageError(_kustomize_failure(folder, result.stderr.replace(relative, str(folder))))
        resources = parse_documents(result.stdout, source=str(folder))
        for resource in resources:
            resource.file = _pop_origin(resource, Path(wrapper), root)
    return resources


def _pop_origin(resource: Resource, wrapper: Path, root: Path) -> str:
    annotations = resource.metadata.get("annotations") or {}
    raw = annotations.pop(ORIGIN_ANNOTATION, None)
    if not annotations and "annotations" in resource.metadata:
        del resource.metadata["annotations"]
    if not raw:
        return ""

    origin = yaml.safe_load(raw) or {}
    # Generated objects carry `configuredIn` (the kustomization) instead of `path`.
    path = origin.get("path") or origin.get("configuredIn")
    if not path:
        return ""
    absolute = (wrapper / path).resolve()
    try:
        return str(absolute.relative_to(root))
    except ValueError:
        return str(absolute)


def parse_documents(text: str, source: str) -> list[Resource]:
    try:
        documents = list(yaml.load_all(text, Loader=SAFE_LOADER))
    except yaml.YAMLError as error:
        raise UsageError(
            t(
                "{source} is not valid YAML: {error}. Fix the syntax at that line.",
                "{source} 不是有效的 YAML: {error}。请修正该行的语法。",
            ).format(source=source, error=error)
        ) from error

    resources = []
    for index, document in enumerate(documents):
        if document is None:
            continue
        if not isinstance(document, dict) or "kind" not in document or "apiVersion" not in document:
            raise UsageError(
                t(
                    "{source}: document {index} is not a Kubernetes object (it needs apiVersion and kind).",
                    "{source}: 第 {index} 个文档不是 Kubernetes 对象 (需要 apiVersion 和 kind)。",
                ).format(source=source, index=index)
            )
        if document["kind"].endswith("List") and isinstance(document.get("items"), list):
            resources.extend(Resource(item, source) for item in document["items"])
            continue
        resources.append(Resource(document, source))
    return resources


def load_target(pins: Pins, root: Path, target: str) -> tuple[str, list[Resource], str | None]:
    """Load an environment name, a kustomization folder or a YAML file.

    Returns the display name, the objects and the environment name (None for
    a path, whose objects are checked without the environment contract).
    """
    if (root / OVERLAYS / target).is_dir() and "/" not in target:
        folder = overlay_dir(root, target)
        return target, build_with_origins(pins, folder, root), target

    path = Path(target)
    if _is_kustomization(path):
        return target, build_with_origins(pins, path, root), None
    if path.is_file():
        try:
            text = path.read_text()
        except OSError as error:
            raise UsageError(str(error)) from error
        return target, parse_documents(text, source=target), None
    if path.is_dir():
        resources: list[Resource] = []
        for file in sorted([*path.glob("*.yaml"), *path.glob("*.yml")]):
            resources.extend(parse_documents(file.read_text(), source=str(file)))
        return target, resources, None

    # Neither a path nor a known environment: name the environments we have.
    overlay_dir(root, target)
    raise AssertionError("unreachable")
