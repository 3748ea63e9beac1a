"""Render an environment or a path into objects, each tagged with its source file."""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
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
    start_folder = (start or Path.cwd()).resolve()
    for folder in (start_folder, *start_folder.parents):
        if (folder / CONTRACT).is_file():
            return folder
    raise UsageError(
        t(
            "no {contract} found in {folder} or above. Run reck8s inside a clone of the repository.",
            "在 {folder} 及其上级目录中找不到 {contract}。请在仓库的克隆目录中运行 reck8s。",
        ).format(contract=CONTRACT, folder=start_folder)
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


def _looks_like_path(target: str) -> bool:
    return "/" in target or target.endswith((".yaml", ".yml")) or target in (".", "..")


def _environment_of(root: Path, folder: Path) -> str | None:
    """Return the environment an overlay folder belongs to, so its path gets the contract too."""
    resolved = folder.resolve()
    if resolved.parent == (root / OVERLAYS).resolve() and resolved.name in environments(root):
        return resolved.name
    return None


def _require_buildable(folder: Path) -> None:
    for name in KUSTOMIZATION_FILES:
        file = folder / name
        if file.is_file() and re.search(r"^kind:\s*Component\s*$", file.read_text(), re.MULTILINE):
            raise UsageError(
                t("{folder} is a Kustomize Component, which cannot be built on its own. Check an overlay that lists it under `components:`.",
                  "{folder} 是 Kustomize Component, 不能单独构建。请检查在 `components:` 中引用它的 overlay。").format(folder=folder)
            )


def render_folder(root: Path, target: str) -> Path:
    """Return the kustomization folder of an environment name or a folder path."""
    if not _looks_like_path(target):
        return overlay_dir(root, target)
    folder = Path(target)
    if not _is_kustomization(folder):
        raise UsageError(
            t("{target} is not a folder with a kustomization.yaml. Give an environment ({known}) or a kustomization folder.",
              "{target} 不是包含 kustomization.yaml 的目录。请给出环境名称 ({known}) 或 kustomization 目录。").format(
                target=target, known=", ".join(environments(root)))
        )
    _require_buildable(folder)
    return folder


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
        "kustomize build failed for {folder}:\n  {stderr}\nFix that kustomization or the file it names, then run `reck8s render {folder}` to confirm.",
        "kustomize build 失败 ({folder}):\n  {stderr}\n请修正该 kustomization 或其中指出的文件, 然后运行 `reck8s render {folder}` 确认。",
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
            # Build again without the wrapper, so the error names only the user's files.
            kustomize_build(pins, folder)
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


class _StrictLoader(SAFE_LOADER):  # type: ignore[misc, valid-type]
    """The safe loader, but a mapping with a key twice is an error instead of keeping the last value."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _StrictLoader.construct_mapping)


def _describe_yaml_error(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is None:
        return problem
    return t("line {line}, column {column}: {problem}", "第 {line} 行第 {column} 列: {problem}").format(
        line=mark.line + 1, column=mark.column + 1, problem=problem)


def parse_documents(text: str, source: str) -> list[Resource]:
    try:
        documents = list(yaml.load_all(text, Loader=_StrictLoader))
    except yaml.YAMLError as error:
        raise UsageError(
            t(
                "{source} is not valid YAML: {error}. Fix the YAML there.",
                "{source} 不是有效的 YAML: {error}。请修正该处的 YAML。",
            ).format(source=source, error=_describe_yaml_error(error))
        ) from error

    resources = []
    for index, document in enumerate(documents, start=1):
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


@dataclass
class Target:
    """One rendered target of `check`: an environment, a kustomization folder or YAML files."""

    name: str
    resources: list[Resource]
    # The environment's name, whose contract applies; None for a path.
    environment: str | None = None
    # The kustomization folder behind the objects; None for plain YAML.
    folder: Path | None = None
    # The file or folder the objects came from.
    path: Path | None = None


def load_target(pins: Pins, root: Path, target: str) -> Target:
    """Load an environment name, a kustomization folder, a YAML file or a folder of YAML files."""
    if (root / OVERLAYS / target).is_dir() and "/" not in target:
        folder = overlay_dir(root, target)
        return Target(target, build_with_origins(pins, folder, root), target, folder, folder)

    path = Path(target)
    if _is_kustomization(path):
        _require_buildable(path)
        return Target(target, build_with_origins(pins, path, root), _environment_of(root, path), path, path)
    if path.is_file():
        try:
            text = path.read_text()
        except OSError as error:
            raise UsageError(str(error)) from error
        return Target(target, _nonempty(parse_documents(text, source=target), target), path=path)
    if path.is_dir():
        resources: list[Resource] = []
        for file in sorted([*path.glob("*.yaml"), *path.glob("*.yml")]):
            resources.extend(parse_documents(file.read_text(), source=str(file)))
        return Target(target, _nonempty(resources, target), path=path)

    if _looks_like_path(target):
        raise UsageError(
            t("{target} does not exist. Give an environment ({known}), a kustomization folder or YAML files.",
              "{target} 不存在。请给出环境名称 ({known})、kustomization 目录或 YAML 文件。").format(
                target=target, known=", ".join(environments(root)))
        )
    # Neither a path nor a known environment: name the environments we have.
    overlay_dir(root, target)
    raise AssertionError("unreachable")


def _nonempty(resources: list[Resource], target: str) -> list[Resource]:
    if not resources:
        raise UsageError(
            t("{target} contains no Kubernetes objects, so there is nothing to check. Give a file or folder with manifests.",
              "{target} 中没有 Kubernetes 对象, 没有可检查的内容。请给出包含清单的文件或目录。").format(target=target)
        )
    return resources

