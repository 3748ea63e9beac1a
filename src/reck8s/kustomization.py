"""Read a Kustomize tree: each kustomization file, and the objects it receives before its own transforms.

Some faults leave no trace in the rendered output: a patch whose target
matches nothing, or an `images:` entry that matches no image, changes
nothing and raises no error. Finding them needs each kustomization's own
inputs, which this module builds one `resources` entry at a time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reck8s.errors import UsageError
from reck8s.i18n import t
from reck8s.model import Resource
from reck8s.render import KUSTOMIZATION_FILES, SAFE_LOADER, kustomize_build, parse_documents
from reck8s.toolchain import Pins

REMOTE = re.compile(r"^(https?://|git@|github\.com/|ssh://)")


@dataclass
class Kustomization:
    folder: Path
    file: Path
    document: dict[str, Any]
    # Display path of the file, relative to the repository root when possible.
    display: str = ""

    @property
    def is_component(self) -> bool:
        return self.document.get("kind") == "Component"

    def entries(self, key: str) -> list[Any]:
        value = self.document.get(key)
        return value if isinstance(value, list) else []

    def local_folders(self, key: str) -> list[Path]:
        """Return the entries of `key` that are local folders with a kustomization."""
        folders = []
        for entry in self.entries(key):
            if not isinstance(entry, str) or REMOTE.match(entry):
                continue
            path = (self.folder / entry).resolve()
            if kustomization_file(path):
                folders.append(path)
        return folders

    def as_resource(self) -> Resource:
        """Return the kustomization as an object, so findings about it name it and its file.

        Its metadata may carry `ignore.reck8s.dev/RULE` annotations, like any object.
        """
        metadata = dict(self.document.get("metadata") or {})
        metadata.setdefault("name", str(self.folder.name))
        return Resource({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": self.document.get("kind", "Kustomization"),
                         "metadata": metadata}, self.display)


def kustomization_file(folder: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def load_tree(folder: Path, root: Path) -> list[Kustomization]:
    """Return every kustomization reachable from `folder` through resources and components, each once."""
    found: dict[Path, Kustomization] = {}
    pending = [folder.resolve()]
    while pending:
        current = pending.pop()
        if current in found:
            continue
        file = kustomization_file(current)
        if file is None:
            continue
        try:
            document = yaml.load(file.read_text(), Loader=SAFE_LOADER) or {}
        except yaml.YAMLError as error:
            raise UsageError(
                t("{file} is not valid YAML: {error}", "{file} 不是有效的 YAML: {error}").format(file=file, error=error)
            ) from error
        node = Kustomization(current, file, document, _display(file, root))
        found[current] = node
        pending.extend(node.local_folders("resources"))
        pending.extend(node.local_folders("components"))
    return list(found.values())


def _display(file: Path, root: Path) -> str:
    try:
        return str(file.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(file)


@dataclass
class InputBuilder:
    """Build the objects each kustomization receives, caching each folder's build."""

    pins: Pins
    _builds: dict[Path, list[Resource]] = field(default_factory=dict)
    _inputs: dict[Path, list[Resource]] = field(default_factory=dict)

    def inputs(self, node: Kustomization) -> list[Resource]:
        """Return the objects of the node's resources and components, and its generators' objects.

        These are the objects its patches, `images:` and `replicas:` apply to.
        Remote resources are skipped, so their objects are missing here.
        Several rules ask for the same node, so each result is kept.
        """
        if node.folder not in self._inputs:
            self._inputs[node.folder] = self._collect(node)
        return self._inputs[node.folder]

    def _collect(self, node: Kustomization) -> list[Resource]:
        objects: list[Resource] = []
        for entry in node.entries("resources"):
            if not isinstance(entry, str) or REMOTE.match(entry):
                continue
            path = (node.folder / entry).resolve()
            if kustomization_file(path):
                objects.extend(self._build(path))
            elif path.is_file():
                objects.extend(parse_documents(path.read_text(), source=str(path)))
        for component in node.local_folders("components"):
            objects.extend(self._component_objects(component))
        objects.extend(_generated(node))
        return objects

    def _build(self, folder: Path) -> list[Resource]:
        if folder not in self._builds:
            document = yaml.load(kustomization_file(folder).read_text(), Loader=SAFE_LOADER) or {}
            if document.get("kind") == "Component":
                self._builds[folder] = self._component_objects(folder)
            else:
                self._builds[folder] = parse_documents(kustomize_build(self.pins, folder), source=str(folder))
        return self._builds[folder]

    def _component_objects(self, folder: Path) -> list[Resource]:
        """Return the objects a Component adds: a Component cannot be built on its own."""
        file = kustomization_file(folder)
        document = yaml.load(file.read_text(), Loader=SAFE_LOADER) or {}
        node = Kustomization(folder, file, document)
        return self.inputs(node)


def _generated(node: Kustomization) -> list[Resource]:
    objects = []
    for key, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
        for entry in node.entries(key):
            if isinstance(entry, dict) and entry.get("name"):
                metadata = {"name": entry["name"]}
                if entry.get("namespace"):
                    metadata["namespace"] = entry["namespace"]
                objects.append(Resource({"apiVersion": "v1", "kind": kind, "metadata": metadata}, str(node.file)))
    return objects


def generator_names(nodes: list[Kustomization]) -> set[str]:
    """Return the names of generated ConfigMaps and Secrets that get a hash suffix."""
    names = set()
    for node in nodes:
        tree_default = bool((node.document.get("generatorOptions") or {}).get("disableNameSuffixHash"))
        for key in ("configMapGenerator", "secretGenerator"):
            for entry in node.entries(key):
                if not isinstance(entry, dict) or not entry.get("name"):
                    continue
                disabled = (entry.get("options") or {}).get("disableNameSuffixHash", tree_default)
                if entry.get("behavior") in ("merge", "replace") or disabled:
                    continue
                names.add(entry["name"])
    return names
