"""Both environments on a real API server with admission, CRD schemas and CEL, a real
scheduler and controllers, and KWOK nodes.
"""
from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from typing import Any

import pytest
import yaml

from reck8s.cluster import Cluster
from reck8s.render import kustomize_build, overlay_dir
from reck8s.toolchain import load_pins

from tests.e2e.conftest import E2E_CLUSTER, REPO_ROOT, run_cli

NAMESPACES = ("recommend-dev", "recommend-prod")
CUSTOM_KINDS = (
    "virtualservices.networking.istio.io", "destinationrules.networking.istio.io",
    "authorizationpolicies.security.istio.io", "peerauthentications.security.istio.io",
    "certificates.cert-manager.io", "issuers.cert-manager.io",
)


def items(cluster: Cluster, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
    args = ["get", kind] + (["-n", namespace] if namespace else [])
    return cluster.kubectl_json(*args)["items"]


def node_labels(cluster: Cluster) -> dict[str, dict[str, str]]:
    return {n["metadata"]["name"]: n["metadata"].get("labels", {}) for n in items(cluster, "nodes")}


def render(env: str) -> str:
    return kustomize_build(load_pins(REPO_ROOT), overlay_dir(REPO_ROOT, env))


# What `up` prints


def test_up_prints_status_table(up_output: subprocess.CompletedProcess[str]) -> None:
    header = up_output.stdout.splitlines()[0].split()
    assert header == ["NAMESPACE", "WORKLOAD", "READY", "POD", "NODE", "ZONE"]
    assert "deployment/recommend-service-canary" in up_output.stdout


def test_status_repeats_table(cluster: Cluster) -> None:
    result = run_cli("--cluster", E2E_CLUSTER, "status")
    assert result.stdout.splitlines()[0].split()[0] == "NAMESPACE"
    for namespace in NAMESPACES:
        assert namespace in result.stdout


# Admission: Pod Security "restricted" is enforced on pods


def test_every_pod_admitted(cluster: Cluster) -> None:
    for namespace in NAMESPACES:
        desired = sum(d["spec"]["replicas"] for d in items(cluster, "deployments", namespace))
        running = [p for p in items(cluster, "pods", namespace) if p["status"].get("phase") == "Running"]
        assert len(running) == desired, namespace
        failed = [e for e in items(cluster, "events", namespace) if e.get("reason") == "FailedCreate"]
        assert failed == [], namespace


def test_violating_pod_rejected(cluster: Cluster) -> None:
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "runs-as-root", "namespace": "recommend-prod"},
        "spec": {"containers": [{"name": "shell", "image": "registry.example.com/debug@sha256:" + "0" * 64,
                                 "securityContext": {"privileged": True}}]},
    }
    result = cluster.kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(pod), check=False)
    assert result.returncode != 0
    assert 'violates PodSecurity "restricted' in result.stderr


def test_violating_deployment_creates_no_pods(cluster: Cluster) -> None:
    labels = {"app": "root-shell"}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "root-shell", "namespace": "recommend-dev"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                {"name": "shell", "image": "registry.example.com/debug@sha256:" + "0" * 64}]}},
        },
    }
    # Admission only warns for the Deployment; the ReplicaSet's pods are rejected.
    applied = cluster.kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(deployment))
    try:
        assert "would violate PodSecurity" in applied.stderr
        cluster.kubectl("wait", "--for=jsonpath={.status.replicas}=1", "deployment/root-shell",
                        "-n", "recommend-dev", "--timeout=60s", check=False)
        events = []
        for _ in range(30):
            events = [e for e in items(cluster, "events", "recommend-dev")
                      if e.get("reason") == "FailedCreate" and e["involvedObject"]["name"].startswith("root-shell")]
            if events:
                break
            subprocess.run(["sleep", "1"], check=True)
        assert events, "no FailedCreate event for the ReplicaSet of root-shell"
        assert "violates PodSecurity" in events[0]["message"]
        pods = [p for p in items(cluster, "pods", "recommend-dev") if p["metadata"]["name"].startswith("root-shell")]
        assert pods == []
    finally:
        cluster.kubectl("delete", "deployment", "root-shell", "-n", "recommend-dev", "--wait=false", check=False)


# Controllers and scheduler


def test_deployments_available(cluster: Cluster) -> None:
    for namespace in NAMESPACES:
        for deployment in items(cluster, "deployments", namespace):
            conditions = {c["type"]: c["status"] for c in deployment["status"]["conditions"]}
            assert conditions["Available"] == "True", deployment["metadata"]["name"]


def test_services_have_ready_endpoints(cluster: Cluster) -> None:
    for namespace in NAMESPACES:
        slices = items(cluster, "endpointslices", namespace)
        for service in items(cluster, "services", namespace):
            if service["spec"]["type"] == "ExternalName":
                continue
            name = service["metadata"]["name"]
            ready = [
                e for s in slices if s["metadata"]["labels"].get("kubernetes.io/service-name") == name
                for e in s.get("endpoints") or [] if e["conditions"].get("ready")
            ]
            assert ready, f"{namespace}/{name} has no ready endpoints"


def test_gpu_pods_only_on_gpu_nodes(cluster: Cluster) -> None:
    labels = node_labels(cluster)
    for namespace in NAMESPACES:
        for pod in items(cluster, "pods", namespace):
            on_gpu_node = labels[pod["spec"]["nodeName"]].get("nvidia.com/gpu.present") == "true"
            wants_gpu = pod["metadata"]["labels"]["app"] == "ugt-inference"
            assert on_gpu_node == wants_gpu, pod["metadata"]["name"]


def test_prod_spreads_zones_and_nodes(cluster: Cluster) -> None:
    labels = node_labels(cluster)
    pods = [p for p in items(cluster, "pods", "recommend-prod")
            if p["metadata"]["labels"].get("app") == "recommend-service" and p["metadata"]["labels"].get("version") == "v1"]
    nodes = [p["spec"]["nodeName"] for p in pods]
    zones = Counter(labels[n]["topology.kubernetes.io/zone"] for n in nodes)
    assert len(pods) == 3
    assert sorted(zones) == ["zone-a", "zone-b", "zone-c"]
    assert len(set(nodes)) == len(nodes)


def test_pdbs_allow_a_disruption(cluster: Cluster) -> None:
    for namespace in NAMESPACES:
        budgets = items(cluster, "poddisruptionbudgets", namespace)
        assert budgets, namespace
        for budget in budgets:
            assert budget["status"]["disruptionsAllowed"] >= 1, budget["metadata"]["name"]


def test_model_claim_bound(cluster: Cluster) -> None:
    for namespace in NAMESPACES:
        claim = cluster.kubectl_json("get", "pvc", "ugt-model", "-n", namespace)
        assert claim["status"]["phase"] == "Bound", namespace


# Custom resources: real CRD schemas and CEL rules


def test_custom_objects_stored(cluster: Cluster) -> None:
    for namespace in NAMESPACES:
        for kind in CUSTOM_KINDS:
            assert items(cluster, kind, namespace), f"{kind} in {namespace}"
    assert items(cluster, "externalsecrets.external-secrets.io", "recommend-prod")


def test_crd_schema_rejects_unknown_field(cluster: Cluster) -> None:
    service = {
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "typo", "namespace": "recommend-dev"},
        "spec": {"hosts": ["recommend-service"], "http": [{"route": [{"destination": {"host": "recommend-service"}}],
                                                           "timeoutt": "1s"}]},
    }
    result = cluster.kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(service), check=False)
    assert result.returncode != 0
    assert "timeoutt" in result.stderr


def test_crd_cel_rule_enforced(cluster: Cluster) -> None:
    # Istio's CRD allows a selector or targetRefs, not both, through a CEL rule.
    policy = {
        "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": {"name": "both-targets", "namespace": "recommend-dev"},
        "spec": {
            "selector": {"matchLabels": {"app": "recommend-service"}},
            "targetRefs": [{"kind": "Service", "group": "", "name": "recommend-service"}],
        },
    }
    result = cluster.kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(policy), check=False)
    assert result.returncode != 0
    assert "only one of targetRefs or selector can be set" in result.stderr


# Re-applying


def test_second_apply_changes_nothing(cluster: Cluster) -> None:
    for env in ("dev", "prod"):
        result = cluster.kubectl("diff", "--server-side", "--field-manager=reck8s", "-f", "-",
                                 stdin=render(env), check=False)
        assert result.returncode == 0, f"{env}:\n{result.stdout}{result.stderr}"


def test_reapply_keeps_scaled_replicas(cluster: Cluster) -> None:
    cluster.kubectl("scale", "deployment/recommend-service", "--replicas=5", "-n", "recommend-prod")
    run_cli("--cluster", E2E_CLUSTER, "up", "prod")
    deployment = cluster.kubectl_json("get", "deployment/recommend-service", "-n", "recommend-prod")
    assert deployment["spec"]["replicas"] == 5


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_render_namespace_matches(env: str) -> None:
    namespaces = [d["metadata"]["name"] for d in yaml.safe_load_all(render(env)) if d["kind"] == "Namespace"]
    assert namespaces == [f"recommend-{env}"]


def test_selector_change_against_cluster(cluster: Cluster, tmp_path) -> None:
    overlay = tmp_path / "relabel"
    overlay.mkdir()
    prod = REPO_ROOT / "devops/kubernetes/overlays/prod"
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - {os.path.relpath(prod, overlay)}\n"
        "labels:\n  - pairs: {team: ranking}\n    includeSelectors: true\n"
    )

    result = run_cli("--cluster", E2E_CLUSTER, "check", "--against", "cluster", "--format", "json", str(overlay), check=False)

    changed = [f for f in json.loads(result.stdout) if f["rule"] == "selector-changed"]
    assert {f["object"]["name"] for f in changed} == {
        "recommend-service", "recommend-service-canary", "recommend-service-v2", "ugt-inference"}
    assert "'team': 'ranking'" in changed[0]["message"]


def test_same_selectors_against_cluster(cluster: Cluster) -> None:
    result = run_cli("--cluster", E2E_CLUSTER, "check", "--against", "cluster", "--format", "json", "prod", check=False)

    assert [f for f in json.loads(result.stdout) if f["rule"] == "selector-changed"] == []


def test_api_port_on_running_cluster(cluster: Cluster) -> None:
    running = cluster.api_port()
    other = running + 1 if running < 65535 else running - 1

    result = run_cli("--cluster", E2E_CLUSTER, "up", "dev", "--api-port", str(other), check=False)

    assert result.returncode == 2
    assert f"already running with kube-apiserver on port {running}" in result.stderr
