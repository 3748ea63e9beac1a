"""Faults that only a Kustomize tree shows: each case builds a small tree in a temp folder
and checks it with the CLI, as a user would, once broken and once fixed.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from reck8s.toolchain import Pins

REPO_ROOT = Path(__file__).resolve().parents[1]

# The rules these tests cover; tests/test_rules.py counts them as tested.
TREE_RULES = {
    "kustomize-patch-unmatched",
    "kustomize-image-unmatched",
    "kustomize-selector-labels",
    "kustomize-generated-name",
    "namespace-stale-reference",
    "selector-changed",
}

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo-infer
spec:
  selector:
    matchLabels:
      app: demo-infer
  template:
    metadata:
      labels:
        app: demo-infer
    spec:
      containers:
        - name: infer
          image: demo/infer:1.0.0
          resources:
            limits:
              nvidia.com/gpu: 1
"""


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def kustomization(body: str) -> str:
    return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" + textwrap.dedent(body)


def check(*args: str) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-m", "reck8s", "check", "--format", "json", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def findings_of(findings: list[dict], rule: str) -> list[dict]:
    return [f for f in findings if f["rule"] == rule]


def base_and_overlay(tmp_path: Path, overlay: str, base_files: dict[str, str] | None = None) -> Path:
    write(tmp_path / "base", base_files or {
        "kustomization.yaml": kustomization("resources:\n  - deployment.yaml\n"),
        "deployment.yaml": DEPLOYMENT,
    })
    write(tmp_path / "overlay", {"kustomization.yaml": kustomization(overlay)})
    return tmp_path / "overlay"


PATCH = """\
resources:
  - ../base
patches:
  - target:
      group: apps
      version: v1
      kind: Deployment
      name: {name}
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu
        value: 2
"""


def test_patch_target_matching_nothing(pinned_tools: Pins, tmp_path: Path) -> None:
    overlay = base_and_overlay(tmp_path, PATCH.format(name="demo-inference"))

    found = findings_of(check(str(overlay)), "kustomize-patch-unmatched")

    assert len(found) == 1
    assert found[0]["severity"] == "error"
    assert "patch 0" in found[0]["message"]
    assert "matched no resource" in found[0]["message"]
    assert "'demo-infer'" in found[0]["message"]
    assert found[0]["file"].endswith("overlay/kustomization.yaml")


def test_patch_target_matching_passes(pinned_tools: Pins, tmp_path: Path) -> None:
    overlay = base_and_overlay(tmp_path, PATCH.format(name="demo-infer"))

    assert findings_of(check(str(overlay)), "kustomize-patch-unmatched") == []


def test_patch_target_regex_and_labels(pinned_tools: Pins, tmp_path: Path) -> None:
    overlay = base_and_overlay(tmp_path, """\
        resources:
          - ../base
        patches:
          - target:
              kind: Deployment
              name: demo-.*
              labelSelector: tier=gpu
            patch: |-
              - op: add
                path: /metadata/annotations
                value: {team: ml}
        """)

    found = findings_of(check(str(overlay)), "kustomize-patch-unmatched")

    assert len(found) == 1, "the name matches but the label selector does not"


def test_image_entry_matching_nothing(pinned_tools: Pins, tmp_path: Path) -> None:
    overlay = base_and_overlay(tmp_path, """\
        resources:
          - ../base
        images:
          - name: demo/inference
            newTag: 1.0.1
        """)

    found = findings_of(check(str(overlay)), "kustomize-image-unmatched")

    assert len(found) == 1
    assert "'demo/inference'" in found[0]["message"]
    assert "demo/infer" in found[0]["message"]


def test_image_entry_matching_passes(pinned_tools: Pins, tmp_path: Path) -> None:
    overlay = base_and_overlay(tmp_path, "resources:\n  - ../base\nimages:\n  - name: demo/infer\n    newTag: 1.0.1\n")

    assert findings_of(check(str(overlay)), "kustomize-image-unmatched") == []


def test_replicas_entry_matching_nothing(pinned_tools: Pins, tmp_path: Path) -> None:
    # kustomize itself rejects a `replicas:` entry that names no workload.
    overlay = base_and_overlay(tmp_path, "resources:\n  - ../base\nreplicas:\n  - name: demo-inference\n    count: 3\n")

    result = subprocess.run(
        [sys.executable, "-m", "reck8s", "check", str(overlay)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )

    assert result.returncode == 2
    assert "demo-inference does not match" in result.stderr


def test_common_labels_change_selectors(pinned_tools: Pins, tmp_path: Path) -> None:
    overlay = base_and_overlay(tmp_path, "resources:\n  - ../base\ncommonLabels:\n  env: dev\n")

    found = findings_of(check(str(overlay)), "kustomize-selector-labels")

    assert len(found) == 1
    assert found[0]["severity"] == "warning"
    assert "commonLabels" in found[0]["message"]


def test_labels_without_selectors_pass(pinned_tools: Pins, tmp_path: Path) -> None:
    overlay = base_and_overlay(tmp_path, """\
        resources:
          - ../base
        labels:
          - pairs:
              env: dev
            includeSelectors: false
        """)

    assert findings_of(check(str(overlay)), "kustomize-selector-labels") == []


GENERATED = """\
resources:
  - ../base
  - external-secret.yaml
configMapGenerator:
  - name: vault-ca
    files:
      - ca.crt
{options}
"""
EXTERNAL_SECRET = """\
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: vault
spec:
  provider:
    vault:
      server: https://vault.example.com
      path: secret
      caProvider:
        type: ConfigMap
        name: vault-ca
        key: ca.crt
      auth:
        tokenSecretRef:
          name: vault-token
          key: token
"""


def test_generated_name_in_custom_resource(pinned_tools: Pins, tmp_path: Path) -> None:
    overlay = base_and_overlay(tmp_path, GENERATED.format(options=""))
    write(overlay, {"external-secret.yaml": EXTERNAL_SECRET, "ca.crt": "not a real certificate\n"})

    found = findings_of(check(str(overlay)), "kustomize-generated-name")

    assert len(found) == 1
    assert found[0]["object"]["kind"] == "SecretStore"
    assert "spec.provider.vault.caProvider.name" in found[0]["message"]
    assert "'vault-ca-" in found[0]["message"]


def test_unhashed_generated_name_passes(pinned_tools: Pins, tmp_path: Path) -> None:
    overlay = base_and_overlay(tmp_path, GENERATED.format(options="    options:\n      disableNameSuffixHash: true"))
    write(overlay, {"external-secret.yaml": EXTERNAL_SECRET, "ca.crt": "not a real certificate\n"})

    assert findings_of(check(str(overlay)), "kustomize-generated-name") == []


STALE = """\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: infer
  namespace: demo
spec:
  selector:
    matchLabels:
      app: demo-infer
  rules:
    - from:
        - source:
            principals:
              - cluster.local/ns/demo/sa/api
"""


def test_stale_namespace_after_transform(pinned_tools: Pins, tmp_path: Path) -> None:
    overlay = base_and_overlay(
        tmp_path, "namespace: demo-dev\nresources:\n  - ../base\n",
        {"kustomization.yaml": kustomization("resources:\n  - policy.yaml\n"), "policy.yaml": STALE},
    )

    found = findings_of(check(str(overlay)), "namespace-stale-reference")

    assert len(found) == 1
    assert "cluster.local/ns/demo/sa/api" in found[0]["message"]
    assert "demo-dev" in found[0]["message"]


def test_short_names_after_transform_pass(pinned_tools: Pins, tmp_path: Path) -> None:
    policy = STALE.replace("principals:\n              - cluster.local/ns/demo/sa/api", "namespaces:\n              - ingress-nginx")
    overlay = base_and_overlay(
        tmp_path, "namespace: demo-dev\nresources:\n  - ../base\n",
        {"kustomization.yaml": kustomization("resources:\n  - policy.yaml\n"), "policy.yaml": policy},
    )

    assert findings_of(check(str(overlay)), "namespace-stale-reference") == []


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
                   check=True, capture_output=True)


def committed_overlay(repo: Path) -> Path:
    """Return the overlay of a base-and-overlay tree committed to a new git repository."""
    overlay = base_and_overlay(repo, "resources:\n  - ../base\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "first")
    return overlay


def check_against_head(overlay: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reck8s", "check", "--format", "json", "--against", "HEAD", str(overlay)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )


def test_selector_change_against_git(pinned_tools: Pins, tmp_path: Path) -> None:
    overlay = committed_overlay(tmp_path / "repo")
    write(overlay, {"kustomization.yaml": kustomization("resources:\n  - ../base\ncommonLabels:\n  env: dev\n")})

    result = check_against_head(overlay)

    found = findings_of(json.loads(result.stdout), "selector-changed")
    assert len(found) == 1, result.stderr
    assert found[0]["object"]["name"] == "demo-infer"
    assert "'env': 'dev'" in found[0]["message"]


def test_unchanged_selector_against_git(pinned_tools: Pins, tmp_path: Path) -> None:
    overlay = committed_overlay(tmp_path / "repo")
    write(overlay, {"kustomization.yaml": kustomization("resources:\n  - ../base\nlabels:\n  - pairs: {env: dev}\n")})

    result = check_against_head(overlay)

    assert findings_of(json.loads(result.stdout), "selector-changed") == [], result.stderr


def test_against_unknown_ref_rejected(pinned_tools: Pins) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reck8s", "check", "--against", "no-such-ref-xyz", "dev"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )

    assert result.returncode == 2
    assert "cannot read git ref 'no-such-ref-xyz'" in result.stderr
