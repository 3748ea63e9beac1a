"""Five misconfigurations that teams reported publicly, each exactly as reported, and its near miss.

Each test runs `reck8s check` on files in a temp folder, as a user would.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from reck8s.toolchain import Pins

REPO_ROOT = Path(__file__).resolve().parents[1]
KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"


def check(path: Path) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-m", "reck8s", "check", "--format", "json", str(path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def by_rule(findings: list[dict], rule: str) -> list[dict]:
    return [f for f in findings if f["rule"] == rule]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# 1. A patch whose target matches nothing leaves the output silently unchanged.

INFER = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo-infer
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: demo-infer}}
  template:
    metadata:
      labels: {{app: demo-infer}}
    spec:
      containers:
        - name: infer
          image: demo/infer:1.0.0
          resources:
            limits:
              nvidia.com/gpu: 1
"""


def patch_overlay(tmp_path: Path, name: str) -> Path:
    write(tmp_path / "base/kustomization.yaml", KUSTOMIZATION + "resources:\n  - deployment.yaml\n")
    write(tmp_path / "base/deployment.yaml", INFER.format(replicas=1))
    patch = "- op: replace\\n  path: /spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu\\n  value: 2"
    write(tmp_path / "overlay/kustomization.yaml", KUSTOMIZATION + textwrap.dedent(f"""\
        resources:
          - ../base
        patches: [{{target: {{group: apps, version: v1, kind: Deployment, name: {name}}}, patch: "{patch}"}}]
        """))
    return tmp_path / "overlay"


def test_sample_patch_matches_nothing(pinned_tools: Pins, tmp_path: Path) -> None:
    found = by_rule(check(patch_overlay(tmp_path, "demo-inference")), "kustomize-patch-unmatched")

    assert len(found) == 1
    assert found[0]["severity"] == "error"
    assert "patch 0" in found[0]["message"]
    assert "matched no resource" in found[0]["message"]


def test_sample_patch_matches(pinned_tools: Pins, tmp_path: Path) -> None:
    assert by_rule(check(patch_overlay(tmp_path, "demo-infer")), "kustomize-patch-unmatched") == []


# 2. A route to a subset that the DestinationRule does not define.

SUBSET = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: demo-api, namespace: demo}}
spec:
  hosts: [demo-api]
  http:
    - route:
        - destination: {{host: demo-api, subset: {subset}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: demo-api, namespace: demo}}
spec:
  host: demo-api
  subsets:
    - name: v1
      labels: {{version: v1}}
"""


def test_sample_subset_undefined(pinned_tools: Pins, tmp_path: Path) -> None:
    found = by_rule(check(write(tmp_path / "mesh.yaml", SUBSET.format(subset="v2"))), "istio-subset-undefined")

    assert len(found) == 1
    assert found[0]["severity"] == "error"
    assert "subset 'v2' of host demo-api" in found[0]["message"]
    assert "503" in found[0]["message"]


def test_sample_subset_defined(pinned_tools: Pins, tmp_path: Path) -> None:
    assert by_rule(check(write(tmp_path / "mesh.yaml", SUBSET.format(subset="v1"))), "istio-subset-undefined") == []


# 3. The in-cluster host bound only to a gateway: callers inside the mesh skip the rules.

GATEWAY_ONLY = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: demo-api, namespace: demo}}
spec:
  hosts: {hosts}
  gateways: [istio-system/demo-gw]
  http:
    - route:
        - destination: {{host: demo-api}}
"""


def test_sample_mesh_not_bound(pinned_tools: Pins, tmp_path: Path) -> None:
    text = GATEWAY_ONLY.format(hosts="[api.example.com, demo-api.demo.svc.cluster.local]")

    found = by_rule(check(write(tmp_path / "vs.yaml", text)), "istio-mesh-gateway")

    assert len(found) == 1
    assert found[0]["severity"] == "warning"
    assert "callers inside the mesh skip these rules" in found[0]["message"]


def test_sample_external_host_only(pinned_tools: Pins, tmp_path: Path) -> None:
    text = GATEWAY_ONLY.format(hosts="[api.example.com]")

    assert by_rule(check(write(tmp_path / "vs.yaml", text)), "istio-mesh-gateway") == []


# 4. The Ingress names a TLS secret that nothing writes.

TLS = """\
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{name: demo-api, namespace: demo}}
spec:
  secretName: demo-api-tls
  dnsNames: [api.example.com]
  issuerRef: {{kind: ClusterIssuer, name: letsencrypt}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: demo-api, namespace: demo}}
spec:
  ingressClassName: nginx
  tls:
    - hosts: [api.example.com]
      secretName: {secret}
  rules:
    - host: api.example.com
"""


def test_sample_tls_secret_missing(pinned_tools: Pins, tmp_path: Path) -> None:
    found = by_rule(check(write(tmp_path / "edge.yaml", TLS.format(secret="demo-tls"))), "ref-tls-secret")

    assert len(found) == 1
    assert "'demo-tls'" in found[0]["message"]
    assert "fake certificate" in found[0]["message"]
    assert "Certificate demo/demo-api writes 'demo-api-tls'" in found[0]["message"]


def test_sample_tls_secret_written(pinned_tools: Pins, tmp_path: Path) -> None:
    assert by_rule(check(write(tmp_path / "edge.yaml", TLS.format(secret="demo-api-tls"))), "ref-tls-secret") == []


# 5. A PDB with minAvailable 1 over one replica blocks every node drain.

PDB = """\
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: demo-infer
spec:
  minAvailable: 1
  selector:
    matchLabels: {app: demo-infer}
"""


def pdb_overlays(tmp_path: Path) -> Path:
    write(tmp_path / "base/kustomization.yaml", KUSTOMIZATION + "resources:\n  - deployment.yaml\n  - pdb.yaml\n")
    write(tmp_path / "base/deployment.yaml", INFER.format(replicas=2))
    write(tmp_path / "base/pdb.yaml", PDB)
    write(tmp_path / "dev/kustomization.yaml", KUSTOMIZATION + "resources:\n  - ../base\nreplicas: [{name: demo-infer, count: 1}]\n")
    write(tmp_path / "prod/kustomization.yaml", KUSTOMIZATION + "resources:\n  - ../base\nreplicas: [{name: demo-infer, count: 3}]\n")
    return tmp_path


def test_sample_pdb_blocks_drain(pinned_tools: Pins, tmp_path: Path) -> None:
    found = by_rule(check(pdb_overlays(tmp_path) / "dev"), "pdb-blocks-drain")

    assert len(found) == 1
    assert found[0]["object"] == {"kind": "PodDisruptionBudget", "namespace": "", "name": "demo-infer"}
    assert "allows 0 disruptions" in found[0]["message"]
    assert "blocks every node drain" in found[0]["message"]


def test_sample_pdb_with_three_replicas(pinned_tools: Pins, tmp_path: Path) -> None:
    assert by_rule(check(pdb_overlays(tmp_path) / "prod"), "pdb-blocks-drain") == []


def test_sample_pdb_counts_hpa_minimum(pinned_tools: Pins, tmp_path: Path) -> None:
    root = pdb_overlays(tmp_path)
    write(root / "dev/hpa.yaml", """\
        apiVersion: autoscaling/v2
        kind: HorizontalPodAutoscaler
        metadata: {name: demo-infer}
        spec:
          scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: demo-infer}
          minReplicas: 3
          maxReplicas: 5
        """)
    write(root / "dev/kustomization.yaml", KUSTOMIZATION + "resources:\n  - ../base\n  - hpa.yaml\n")

    assert by_rule(check(root / "dev"), "pdb-blocks-drain") == []
