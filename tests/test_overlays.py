"""The real dev and prod overlays: the contract, each fixed spec defect, and a clean check.

Each test renders the overlays with the pinned kustomize, so it fails if a
defect comes back in any file that feeds the render.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reck8s.check import load_contract, run_rules
from reck8s.model import Resource
from reck8s.render import build_with_origins, overlay_dir
from reck8s.rules import Context
from reck8s.rules.podsecurity import restricted_violations
from reck8s.schema import SchemaStore
from reck8s.toolchain import load_pins, require_schemas

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENTS = ("dev", "prod")


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    return load_contract(ROOT)


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def env(request: pytest.FixtureRequest) -> str:
    return request.param


_renders: dict[str, list[Resource]] = {}


def render(env: str) -> list[Resource]:
    if env not in _renders:
        _renders[env] = build_with_origins(load_pins(ROOT), overlay_dir(ROOT, env), ROOT)
    return _renders[env]


def objects(env: str, kind: str) -> list[Resource]:
    return [r for r in render(env) if r.kind == kind]


def one(env: str, kind: str, name: str) -> Resource:
    found = [r for r in objects(env, kind) if r.name == name]
    assert len(found) == 1, f"{env}: expected one {kind} {name}, found {len(found)}"
    return found[0]


def containers(workload: Resource) -> list[dict[str, Any]]:
    spec = workload.spec["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


# The contract


def test_contract_lists_both_namespaces(contract: dict[str, Any]) -> None:
    assert contract["namespaces"] == ["recommend-dev", "recommend-prod"]


def test_every_object_in_env_namespace(env: str) -> None:
    namespace = f"recommend-{env}"
    for resource in render(env):
        if resource.kind == "Namespace":
            assert resource.name == namespace
        else:
            assert resource.namespace == namespace, resource.ref()


def test_service_ports_match_contract(env: str, contract: dict[str, Any]) -> None:
    for name, ports in contract["services"].items():
        service = one(env, "Service", name)
        actual = {p["name"]: p["port"] for p in service.spec["ports"]}
        assert actual == ports, f"{env}: Service {name}"


def test_namespace_security_labels(env: str) -> None:
    labels = one(env, "Namespace", f"recommend-{env}").labels
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert labels["istio-injection"] == "enabled"


# Both overlays check clean against the real schemas


def test_overlay_checks_clean(env: str, contract: dict[str, Any]) -> None:
    pins = load_pins(ROOT)
    schemas = SchemaStore.load(*require_schemas(pins))
    report = run_rules(env, render(env), environment=env, contract_=contract, schemas=schemas)
    assert [f.to_json() for f in report.findings] == []


# Spec defect 1: one Deployment per version, the Service selects `app` only


def test_selectors_include_version(env: str) -> None:
    for deployment in objects(env, "Deployment"):
        selector = deployment.spec["selector"]["matchLabels"]
        assert set(selector) == {"app", "version"}, deployment.ref()


def test_service_selects_app_only(env: str) -> None:
    assert one(env, "Service", "recommend-service").spec["selector"] == {"app": "recommend-service"}


def test_prod_subsets_have_pods() -> None:
    rule = one("prod", "DestinationRule", "recommend-service")
    subsets = {s["name"]: s["labels"] for s in rule.spec["subsets"]}
    assert subsets == {"stable": {"version": "v1"}, "canary": {"version": "canary"}, "v2": {"version": "v2"}}
    versions = {
        d.spec["template"]["metadata"]["labels"]["version"]
        for d in objects("prod", "Deployment")
        if d.spec["template"]["metadata"]["labels"]["app"] == "recommend-service"
    }
    assert versions == {"v1", "canary", "v2"}


def test_v2_turns_on_new_algorithm() -> None:
    env_vars = containers(one("prod", "Deployment", "recommend-service-v2"))[0]["env"]
    assert {"name": "FEATURE_NEW_ALGORITHM", "value": "true"} in env_vars


# Spec defect 2: no replicas where an HPA scales


def test_hpa_target_has_no_replicas(env: str) -> None:
    for hpa in objects(env, "HorizontalPodAutoscaler"):
        target = one(env, "Deployment", hpa.spec["scaleTargetRef"]["name"])
        assert "replicas" not in target.spec, target.ref()


# Spec defect 3: pinned images


def test_images_pinned(env: str) -> None:
    for deployment in objects(env, "Deployment"):
        for container in containers(deployment):
            image = container["image"]
            assert not image.endswith(":latest"), image
            assert container["imagePullPolicy"] == "IfNotPresent", image
            if env == "prod":
                assert "@sha256:" in image, image
            else:
                assert ":" in image.rsplit("/", 1)[-1], image


def test_canary_runs_candidate_image() -> None:
    stable = containers(one("prod", "Deployment", "recommend-service"))[0]["image"]
    canary = containers(one("prod", "Deployment", "recommend-service-canary"))[0]["image"]
    assert canary != stable


# Spec defects 4 and 5: the VirtualService binds the mesh; circuit breaking, not faults


def test_virtual_service_binds_mesh(env: str) -> None:
    for service in objects(env, "VirtualService"):
        assert "mesh" in service.spec.get("gateways", ["mesh"]), service.ref()


def test_no_fault_injection(env: str) -> None:
    for service in objects(env, "VirtualService"):
        for route in service.spec["http"]:
            assert "fault" not in route, service.ref()


def test_circuit_breaking_configured(env: str) -> None:
    policy = one(env, "DestinationRule", "recommend-service").spec["trafficPolicy"]
    assert policy["connectionPool"]["http"]["http1MaxPendingRequests"] > 0
    assert policy["outlierDetection"]["consecutive5xxErrors"] > 0


def test_prod_routes_canary_and_ab() -> None:
    routes = {r["name"]: r for r in one("prod", "VirtualService", "recommend-service").spec["http"]}
    assert list(routes) == ["canary-header", "ab-experiment", "default"]
    assert routes["canary-header"]["match"][0]["headers"] == {"x-canary": {"exact": "true"}}
    assert routes["ab-experiment"]["route"][0]["destination"]["subset"] == "v2"
    weights = {d["destination"]["subset"]: d["weight"] for d in routes["default"]["route"]}
    assert weights == {"stable": 95, "canary": 5}


def test_dev_has_no_canary() -> None:
    names = {d.name for d in objects("dev", "Deployment")}
    assert names == {"recommend-service", "ugt-inference"}
    routes = one("dev", "VirtualService", "recommend-service").spec["http"]
    assert [d["destination"]["subset"] for d in routes[0]["route"]] == ["stable"]


# Spec defects 6 and 7: ingressClassName, and one edge per host


def test_ingress_uses_class_name(env: str) -> None:
    ingress = one(env, "Ingress", "recommend-service")
    assert ingress.spec["ingressClassName"] == "nginx"
    assert "kubernetes.io/ingress.class" not in ingress.annotations


def test_one_edge_per_host(env: str) -> None:
    gateways = [r for r in render(env) if r.kind == "Gateway"]
    assert gateways == []
    hosts = [rule["host"] for i in objects(env, "Ingress") for rule in i.spec["rules"]]
    assert len(hosts) == len(set(hosts))


def test_edge_forwards_into_mesh(env: str) -> None:
    annotations = one(env, "Ingress", "recommend-service").annotations
    assert annotations["nginx.ingress.kubernetes.io/service-upstream"] == "true"
    expected = f"recommend-service.recommend-{env}.svc.cluster.local"
    assert annotations["nginx.ingress.kubernetes.io/upstream-vhost"] == expected


def test_issuer_per_environment() -> None:
    issuers = {env: one(env, "Certificate", "recommend-api-tls").spec["issuerRef"]["name"] for env in ENVIRONMENTS}
    assert issuers == {"dev": "letsencrypt-staging", "prod": "letsencrypt-prod"}
    assert "acme-staging" in one("dev", "Issuer", "letsencrypt-staging").spec["acme"]["server"]


# Spec defect 8: the GPU Deployment


def test_gpu_scheduling(env: str) -> None:
    pod = one(env, "Deployment", "ugt-inference").spec["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert "CUDA_VISIBLE_DEVICES" not in {v["name"] for v in container.get("env", [])}


def test_gpu_probes_and_volumes(env: str) -> None:
    pod = one(env, "Deployment", "ugt-inference").spec["template"]["spec"]
    container = pod["containers"][0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"]["port"] == 50051, probe
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["dshm"]["emptyDir"]["medium"] == "Memory"
    assert "sizeLimit" in volumes["dshm"]["emptyDir"]
    claim = volumes["model-storage"]["persistentVolumeClaim"]
    assert claim["readOnly"] is True
    one(env, "PersistentVolumeClaim", claim["claimName"])


def test_gpu_metrics_scraped(env: str) -> None:
    deployment = one(env, "Deployment", "ugt-inference")
    annotations = deployment.spec["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == "9094"
    ports = {p["name"]: p["containerPort"] for p in containers(deployment)[0]["ports"]}
    assert ports["metrics"] == 9094


# Spec defects 9 and 10: no unbounded init wait; restricted everywhere


def test_no_unbounded_init_wait(env: str) -> None:
    for deployment in objects(env, "Deployment"):
        for init in deployment.spec["template"]["spec"].get("initContainers", []):
            assert "until" not in " ".join(init.get("command", [])), deployment.ref()


def test_pods_pass_restricted(env: str) -> None:
    context = Context(render(env))
    for workload in context.workloads():
        assert restricted_violations(workload) == [], workload.resource.ref()


def test_no_token_automount(env: str) -> None:
    for deployment in objects(env, "Deployment"):
        assert deployment.spec["template"]["spec"]["automountServiceAccountToken"] is False, deployment.ref()


# Spec defect 11: graceful shutdown


def test_prestop_within_grace_period(env: str) -> None:
    for deployment in objects(env, "Deployment"):
        pod = deployment.spec["template"]["spec"]
        for container in pod["containers"]:
            delay = container["lifecycle"]["preStop"]["sleep"]["seconds"]
            assert 0 < delay < pod["terminationGracePeriodSeconds"], deployment.ref()


def test_sidecar_outlives_application(env: str) -> None:
    for deployment in objects(env, "Deployment"):
        annotations = deployment.spec["template"]["metadata"]["annotations"]
        assert annotations["sidecar.istio.io/nativeSidecar"] == "true", deployment.ref()


# Spec defect 12: no secret values in git


def test_prod_render_has_no_secret_data() -> None:
    assert objects("prod", "Secret") == []
    external = one("prod", "ExternalSecret", "app-secrets")
    assert external.spec["target"]["name"] == "app-secrets"


def test_secret_keys_match_base() -> None:
    base = yaml.safe_load((ROOT / "devops/kubernetes/base/secret.yaml").read_text())
    keys = set(base["stringData"])
    assert set(one("dev", "Secret", "app-secrets").obj["data"]) == keys
    assert {d["secretKey"] for d in one("prod", "ExternalSecret", "app-secrets").spec["data"]} == keys


# Sizes: dev small, prod full


def test_dev_runs_one_replica() -> None:
    hpa = one("dev", "HorizontalPodAutoscaler", "recommend-service")
    assert hpa.spec["minReplicas"] == 1
    assert one("dev", "Deployment", "ugt-inference").spec["replicas"] == 1


def test_prod_hpa_shape() -> None:
    hpa = one("prod", "HorizontalPodAutoscaler", "recommend-service").spec
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 20)
    assert [m["type"] for m in hpa["metrics"]] == ["Resource", "Resource", "Pods"]
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert hpa["behavior"]["scaleUp"]["selectPolicy"] == "Max"


def test_prod_spreads_over_zones_and_hosts() -> None:
    spread = one("prod", "Deployment", "recommend-service").spec["template"]["spec"]["topologySpreadConstraints"]
    keys = {c["topologyKey"]: c["whenUnsatisfiable"] for c in spread}
    assert keys == {"topology.kubernetes.io/zone": "DoNotSchedule", "kubernetes.io/hostname": "DoNotSchedule"}


def test_prod_multi_replica_has_pdb() -> None:
    report = run_rules("prod", render("prod"), only={"pdb-missing", "pdb-blocks-drain"})
    assert report.findings == []
    assert len(objects("prod", "PodDisruptionBudget")) == 4


def test_origins_name_source_files(env: str) -> None:
    deployment = one(env, "Deployment", "recommend-service")
    assert deployment.file == "devops/kubernetes/base/deployment.yaml"
    assert all(r.file for r in render(env)), [r.ref() for r in render(env) if not r.file]
