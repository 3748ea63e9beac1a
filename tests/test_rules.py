"""Every rule in reck8s.rules.RULES, run on tests/fixtures/rules/clean.yaml and on mutations of it.

The clean set must pass every rule. Each case in CASES makes one small edit
to a fresh copy of the set and expects exactly one finding of its rule. The
named tests after the table cover faults seen in real configurations.
"""
from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reck8s.check import run_rules
from reck8s.model import Finding, Resource, Severity
from reck8s.render import parse_documents
from reck8s.rules import RULES

CLEAN = Path(__file__).parent / "fixtures" / "rules" / "clean.yaml"

# The contract rules only run for an environment, and the contract names an
# environment's namespace `<prefix>-<environment>`. Cases that need the
# contract therefore move the clean set into CONTRACT_NAMESPACE first.
CONTRACT_ENVIRONMENT = "demo"
CONTRACT_NAMESPACE = "recommend-demo"
CONTRACT = {
    "namespaces": [CONTRACT_NAMESPACE],
    "services": {"api": {"http": 8080}, "model": {"grpc": 50051}},
}

# Values of Case.context: what a case needs besides the objects.
SCHEMAS = "schemas"
CONTRACT_CONTEXT = "contract"

CANARY_IMAGE = "registry.example.com/demo/api@sha256:9a1e7c3b5d2f84a60e9c17b3f5d28a4c6e0b93d1f7a25c8e4b06d3a9f1c7e52b"
MIGRATION_IMAGE = "registry.example.com/demo/migrate@sha256:0b7e4d2a9c1f5e38a6d0c4b2f7e9a1d3c5b8f0e2a4c6d8b1f3e5a7c9d0b2e4f6"


@functools.cache
def _clean_objects() -> tuple[dict[str, Any], ...]:
    return tuple(resource.obj for resource in parse_documents(CLEAN.read_text(), str(CLEAN)))


class Manifests:
    """A fresh copy of the objects in clean.yaml, which a mutation edits in place."""

    def __init__(self) -> None:
        self.objects = copy.deepcopy(list(_clean_objects()))

    def get(self, kind: str, name: str) -> dict[str, Any]:
        for obj in self.objects:
            if obj["kind"] == kind and obj["metadata"]["name"] == name:
                return obj
        raise KeyError(f"{kind} {name} is not in {CLEAN.name}")

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects.append(obj)
        return obj

    def remove(self, kind: str, name: str) -> None:
        self.objects.remove(self.get(kind, name))

    def clone(self, kind: str, name: str, new_name: str) -> dict[str, Any]:
        """Append a copy of an object under a new name and return it."""
        obj = copy.deepcopy(self.get(kind, name))
        obj["metadata"]["name"] = new_name
        return self.add(obj)

    def pod_spec(self, deployment: str) -> dict[str, Any]:
        return self.get("Deployment", deployment)["spec"]["template"]["spec"]

    def container(self, deployment: str) -> dict[str, Any]:
        return self.pod_spec(deployment)["containers"][0]

    def route(self) -> dict[str, Any]:
        """Return the first HTTP route of VirtualService api."""
        return self.get("VirtualService", "api")["spec"]["http"][0]

    def move_to(self, namespace: str) -> None:
        """Rename the Namespace and move every namespaced object into it, as an overlay's `namespace:` does."""
        for obj in self.objects:
            if obj["kind"] == "Namespace":
                obj["metadata"]["name"] = namespace
            else:
                obj["metadata"]["namespace"] = namespace

    def resources(self) -> list[Resource]:
        return [Resource(obj, str(CLEAN)) for obj in self.objects]


def check(
    manifests: Manifests,
    rule_id: str,
    schemas: Any = None,
    contract: bool = False,
) -> list[Finding]:
    """Run one rule over the objects and return its findings."""
    report = run_rules(
        "demo",
        manifests.resources(),
        environment=CONTRACT_ENVIRONMENT if contract else None,
        contract_=CONTRACT if contract else None,
        schemas=schemas,
        only={rule_id},
    )
    return report.findings


# The table: one mutation per rule, with the finding it must produce.


@dataclass(frozen=True)
class Case:
    rule: str
    mutate: Callable[[Manifests], None]
    kind: str
    name: str
    phrase: str
    severity: Severity
    context: str | None

    def __str__(self) -> str:
        return self.rule


CASES: list[Case] = []


def case(
    rule_id: str,
    kind: str,
    name: str,
    phrase: str,
    severity: Severity = Severity.ERROR,
    context: str | None = None,
) -> Callable[[Callable[[Manifests], None]], Callable[[Manifests], None]]:
    """Register the decorated mutation as the case for rule_id, with the finding it must produce."""

    def register(mutate: Callable[[Manifests], None]) -> Callable[[Manifests], None]:
        CASES.append(Case(rule_id, mutate, kind, name, phrase, severity, context))
        return mutate

    return register


@case("contract-namespace", "ConfigMap", "api-config", "is in namespace 'demo', not recommend-demo",
      context=CONTRACT_CONTEXT)
def hard_code_old_namespace(manifests: Manifests) -> None:
    manifests.get("ConfigMap", "api-config")["metadata"]["namespace"] = "demo"


@case("contract-service-ports", "Service", "api", "exposes ports {'http': 80}", context=CONTRACT_CONTEXT)
def change_contract_port(manifests: Manifests) -> None:
    manifests.get("Service", "api")["spec"]["ports"][0]["port"] = 80


@case("namespace-security-labels", "Namespace", "demo", "neither enforces Pod Security `restricted`")
def drop_pod_security_labels(manifests: Manifests) -> None:
    labels = manifests.get("Namespace", "demo")["metadata"]["labels"]
    for key in [k for k in labels if k.startswith("pod-security.kubernetes.io/")]:
        del labels[key]


@case("ingress-class", "Ingress", "api", "sets no ingressClassName", severity=Severity.WARNING)
def drop_ingress_class_name(manifests: Manifests) -> None:
    del manifests.get("Ingress", "api")["spec"]["ingressClassName"]


@case("edge-host-conflict", "Gateway", "public", "host api.example.com is also claimed by Ingress demo/api")
def add_gateway_for_ingress_host(manifests: Manifests) -> None:
    manifests.add({
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "public", "namespace": "demo"},
        "spec": {
            "selector": {"istio": "ingressgateway"},
            "servers": [{
                "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                "hosts": ["demo/api.example.com"],
                "tls": {"mode": "SIMPLE", "credentialName": "demo-api-tls"},
            }],
        },
    })


@case("ref-service-selector", "Service", "api", "matches no pod template")
def misspell_service_selector(manifests: Manifests) -> None:
    manifests.get("Service", "api")["spec"]["selector"] = {"app": "api-server"}


@case("ref-target-port", "Service", "api", "targets 'web'/TCP, which Deployment demo/api does not declare")
def target_undeclared_port(manifests: Manifests) -> None:
    manifests.get("Service", "api")["spec"]["ports"][0]["targetPort"] = "web"


@case("ref-hpa-target", "HorizontalPodAutoscaler", "api", "scaleTargetRef Deployment/api-v2 is not in the render")
def scale_missing_deployment(manifests: Manifests) -> None:
    manifests.get("HorizontalPodAutoscaler", "api")["spec"]["scaleTargetRef"]["name"] = "api-v2"


@case("ref-pdb-selector", "PodDisruptionBudget", "api", "selector matches no pods")
def misspell_pdb_selector(manifests: Manifests) -> None:
    manifests.get("PodDisruptionBudget", "api")["spec"]["selector"] = {"matchLabels": {"app": "apl"}}


@case("ref-pod-dependency", "Deployment", "api", "uses Secret 'api-secrets', which is not in the render")
def drop_external_secret(manifests: Manifests) -> None:
    manifests.remove("ExternalSecret", "api-secrets")


@case("ref-dependency-host", "ConfigMap", "api-config",
      "MODEL_HOST names model-server, but the render has no Service model-server")
def point_host_at_missing_service(manifests: Manifests) -> None:
    manifests.get("ConfigMap", "api-config")["data"]["MODEL_HOST"] = "model-server"


@case("ref-certificate-issuer", "Certificate", "demo-api-tls",
      "issuerRef Issuer 'letsencrypt-prod' is not in the render")
def point_certificate_at_missing_issuer(manifests: Manifests) -> None:
    manifests.get("Certificate", "demo-api-tls")["spec"]["issuerRef"]["name"] = "letsencrypt-prod"


@case("ref-ingress-backend", "Ingress", "api", "backend port 'https' is not a port of Service api")
def use_missing_backend_port(manifests: Manifests) -> None:
    backend = manifests.get("Ingress", "api")["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    backend["service"]["port"] = {"name": "https"}


@case("ref-tls-secret", "Ingress", "api", "produces the TLS secret 'demo-api-tls'")
def drop_certificate(manifests: Manifests) -> None:
    manifests.remove("Certificate", "demo-api-tls")


@case("ref-secret-store", "ExternalSecret", "api-secrets",
      "secretStoreRef SecretStore 'vault-prod' is not in the render")
def point_external_secret_at_missing_store(manifests: Manifests) -> None:
    manifests.get("ExternalSecret", "api-secrets")["spec"]["secretStoreRef"]["name"] = "vault-prod"


@case("istio-gateway-ref", "VirtualService", "api", "binds Gateway 'api-gateway', which is not in the render")
def bind_missing_gateway(manifests: Manifests) -> None:
    manifests.get("VirtualService", "api")["spec"]["gateways"] = ["mesh", "api-gateway"]


@case("istio-host-ref", "VirtualService", "api", "host 'api-v2' is not a Service in the render")
def route_to_missing_service(manifests: Manifests) -> None:
    manifests.route()["route"][0]["destination"]["host"] = "api-v2"


@case("istio-subset-undefined", "VirtualService", "api", "(no DestinationRule defines: -)")
def drop_destination_rule(manifests: Manifests) -> None:
    manifests.remove("DestinationRule", "api")


@case("istio-subset-no-pods", "DestinationRule", "api", "which no pod behind Service api carries")
def select_absent_version(manifests: Manifests) -> None:
    manifests.get("DestinationRule", "api")["spec"]["subsets"][0]["labels"] = {"version": "v2"}


@case("istio-route-weights", "VirtualService", "api", "weights summing to 95, not 100")
def split_with_short_weights(manifests: Manifests) -> None:
    manifests.get("DestinationRule", "api")["spec"]["subsets"].append({"name": "v2", "labels": {"version": "v2"}})
    manifests.route()["route"] = [
        {"destination": {"host": "api", "subset": "v1"}, "weight": 90},
        {"destination": {"host": "api", "subset": "v2"}, "weight": 5},
    ]


@case("istio-retry-budget", "VirtualService", "api", "3 tries of 4s need 12s, but the route timeout is 10s")
def lengthen_per_try_timeout(manifests: Manifests) -> None:
    manifests.route()["retries"]["perTryTimeout"] = "4s"


@case("istio-fault-injection", "VirtualService", "api", "injects faults (delay)", severity=Severity.WARNING)
def inject_delay(manifests: Manifests) -> None:
    manifests.route()["fault"] = {"delay": {"percentage": {"value": 10.0}, "fixedDelay": "5s"}}


@case("istio-mesh-gateway", "VirtualService", "api", "binds only istio-system/public-gateway",
      severity=Severity.WARNING)
def bind_only_shared_gateway(manifests: Manifests) -> None:
    manifests.get("VirtualService", "api")["spec"]["gateways"] = ["istio-system/public-gateway"]


@case("pss-restricted", "Deployment", "api", "api: privileged")
def run_privileged(manifests: Manifests) -> None:
    manifests.container("api")["securityContext"]["privileged"] = True


@case("service-account-token", "Deployment", "api", "mounts a ServiceAccount token", severity=Severity.WARNING)
def mount_token_on_pod(manifests: Manifests) -> None:
    manifests.pod_spec("api")["automountServiceAccountToken"] = True


@case("schema-invalid", "Deployment", "api", "spec.template.spec.containers[0].ports[0].containerPort", context=SCHEMAS)
def quote_container_port(manifests: Manifests) -> None:
    manifests.container("api")["ports"][0]["containerPort"] = "8080"


@case("schema-unknown-kind", "HorizontalPodAutoscaler", "api",
      "no schema is known for HorizontalPodAutoscaler in autoscaling/v2beta2", context=SCHEMAS)
def use_removed_api_version(manifests: Manifests) -> None:
    manifests.get("HorizontalPodAutoscaler", "api")["apiVersion"] = "autoscaling/v2beta2"


@case("container-resources", "Deployment", "api", "container 'api' sets no limits.memory")
def drop_memory_limit(manifests: Manifests) -> None:
    del manifests.container("api")["resources"]["limits"]


@case("container-probes", "Deployment", "api", "container 'api' has no livenessProbe")
def drop_liveness_probe(manifests: Manifests) -> None:
    del manifests.container("api")["livenessProbe"]


@case("image-pinned", "Deployment", "api", "has no tag, so it means `latest`")
def drop_image_tag(manifests: Manifests) -> None:
    manifests.container("api")["image"] = "registry.example.com/demo/api"


@case("pdb-missing", "Deployment", "api", "runs 3 replicas with no PodDisruptionBudget")
def drop_pdb(manifests: Manifests) -> None:
    manifests.remove("PodDisruptionBudget", "api")


@case("pdb-blocks-drain", "PodDisruptionBudget", "api", "allows 0 disruptions for Deployment demo/api at 3 replicas")
def allow_no_disruption(manifests: Manifests) -> None:
    manifests.get("PodDisruptionBudget", "api")["spec"]["maxUnavailable"] = 0


@case("hpa-replicas-set", "Deployment", "api", "sets replicas: 3 while HorizontalPodAutoscaler demo/api scales it")
def set_replicas_beside_hpa(manifests: Manifests) -> None:
    manifests.get("Deployment", "api")["spec"]["replicas"] = 3


@case("hpa-resource-request", "HorizontalPodAutoscaler", "api", "containers ['api'] request no cpu")
def drop_cpu_request(manifests: Manifests) -> None:
    del manifests.container("api")["resources"]["requests"]["cpu"]


@case("gpu-scheduling", "Deployment", "model", "no toleration for the nvidia.com/gpu taint")
def drop_gpu_toleration(manifests: Manifests) -> None:
    del manifests.pod_spec("model")["tolerations"]


@case("graceful-shutdown", "Deployment", "api", "container 'api' has no preStop delay", severity=Severity.WARNING)
def drop_pre_stop(manifests: Manifests) -> None:
    del manifests.container("api")["lifecycle"]


@case("deployment-selector-overlap", "Deployment", "api-canary", "that of Deployment demo/api match each other's pods")
def add_canary_without_version_bump(manifests: Manifests) -> None:
    canary = manifests.clone("Deployment", "api", "api-canary")
    canary["spec"]["template"]["spec"]["containers"][0]["image"] = CANARY_IMAGE


@case("secret-data-in-render", "Secret", "api-secrets", "contains values for DATABASE_PASSWORD")
def commit_secret_value(manifests: Manifests) -> None:
    manifests.add({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "api-secrets", "namespace": "demo"},
        "type": "Opaque",
        "stringData": {"DATABASE_PASSWORD": "hunter2"},
    })


def _case_manifests(table_case: Case) -> Manifests:
    manifests = Manifests()
    if table_case.context == CONTRACT_CONTEXT:
        manifests.move_to(CONTRACT_NAMESPACE)
    return manifests


def _case_findings(table_case: Case, manifests: Manifests, request: pytest.FixtureRequest) -> list[Finding]:
    schemas = request.getfixturevalue("schema_store") if table_case.context == SCHEMAS else None
    return check(manifests, table_case.rule, schemas=schemas, contract=table_case.context == CONTRACT_CONTEXT)


def test_table_covers_every_rule() -> None:
    covered = {c.rule for c in CASES}
    assert sorted(set(RULES) - covered) == [], "rules without a case in CASES"
    assert sorted(covered - set(RULES)) == [], "cases for rule ids that RULES does not have"


def test_table_has_one_case_per_rule() -> None:
    rule_ids = [c.rule for c in CASES]
    assert sorted({r for r in rule_ids if rule_ids.count(r) > 1}) == []


@pytest.mark.parametrize("table_case", CASES, ids=str)
def test_clean_set_passes_rule(table_case: Case, request: pytest.FixtureRequest) -> None:
    assert _case_findings(table_case, _case_manifests(table_case), request) == []


@pytest.mark.parametrize("table_case", CASES, ids=str)
def test_mutation_triggers_rule(table_case: Case, request: pytest.FixtureRequest) -> None:
    manifests = _case_manifests(table_case)
    table_case.mutate(manifests)

    findings = _case_findings(table_case, manifests, request)

    assert len(findings) == 1, f"{table_case.mutate.__name__} gave {findings}"
    finding = findings[0]
    assert finding.rule == table_case.rule
    assert finding.severity is table_case.severity
    assert finding.kind == table_case.kind
    assert finding.name == table_case.name
    assert table_case.phrase in finding.message


# The whole clean set.


def test_clean_set_passes_all_rules() -> None:
    report = run_rules("demo", Manifests().resources())
    assert report.findings == []


def test_clean_set_matches_schemas(schema_store: Any) -> None:
    report = run_rules(
        "demo", Manifests().resources(), schemas=schema_store, only={"schema-invalid", "schema-unknown-kind"}
    )
    assert report.findings == []


def test_clean_set_meets_contract() -> None:
    manifests = Manifests()
    manifests.move_to(CONTRACT_NAMESPACE)

    report = run_rules("demo", manifests.resources(), environment=CONTRACT_ENVIRONMENT, contract_=CONTRACT)

    assert report.findings == []


# Faults seen in real configurations.


def _expect_one(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, f"expected one finding, got {findings}"
    return findings[0]


def _select_app_only(deployment: dict[str, Any]) -> None:
    deployment["spec"]["selector"] = {"matchLabels": {"app": "api"}}
    deployment["spec"]["template"]["metadata"]["labels"] = {"app": "api"}


def test_canary_sharing_selector_overlaps() -> None:
    manifests = Manifests()
    _select_app_only(manifests.get("Deployment", "api"))
    canary = manifests.clone("Deployment", "api", "api-canary")
    canary["spec"]["template"]["spec"]["containers"][0]["image"] = CANARY_IMAGE

    finding = _expect_one(check(manifests, "deployment-selector-overlap"))

    assert finding.rule == "deployment-selector-overlap"
    assert finding.severity is Severity.ERROR
    assert finding.kind == "Deployment"
    assert finding.name == "api-canary"
    assert "Deployment demo/api" in finding.message


def test_canary_with_version_does_not_overlap() -> None:
    manifests = Manifests()
    canary = manifests.clone("Deployment", "api", "api-canary")
    canary["spec"]["selector"]["matchLabels"]["version"] = "v2"
    canary["spec"]["template"]["metadata"]["labels"]["version"] = "v2"
    canary["spec"]["template"]["spec"]["containers"][0]["image"] = CANARY_IMAGE

    assert check(manifests, "deployment-selector-overlap") == []


def test_gateway_only_internal_host_warns() -> None:
    manifests = Manifests()
    manifests.get("VirtualService", "api")["spec"]["gateways"] = ["istio-system/public-gateway"]

    finding = _expect_one(check(manifests, "istio-mesh-gateway"))

    assert finding.rule == "istio-mesh-gateway"
    assert finding.severity is Severity.WARNING
    assert finding.kind == "VirtualService"
    assert finding.name == "api"
    assert "names the in-cluster host api" in finding.message


def test_gateway_only_external_host_passes() -> None:
    manifests = Manifests()
    spec = manifests.get("VirtualService", "api")["spec"]
    spec["gateways"] = ["istio-system/public-gateway"]
    spec["hosts"] = ["api.example.com"]

    assert check(manifests, "istio-mesh-gateway") == []


def _min_available_one(manifests: Manifests) -> None:
    spec = manifests.get("PodDisruptionBudget", "api")["spec"]
    del spec["maxUnavailable"]
    spec["minAvailable"] = 1


def _without_hpa(manifests: Manifests, replicas: int) -> None:
    manifests.remove("HorizontalPodAutoscaler", "api")
    manifests.get("Deployment", "api")["spec"]["replicas"] = replicas


def test_min_available_blocks_single_replica() -> None:
    manifests = Manifests()
    _min_available_one(manifests)
    _without_hpa(manifests, replicas=1)

    finding = _expect_one(check(manifests, "pdb-blocks-drain"))

    assert finding.rule == "pdb-blocks-drain"
    assert finding.severity is Severity.ERROR
    assert finding.kind == "PodDisruptionBudget"
    assert finding.name == "api"
    assert "allows 0 disruptions for Deployment demo/api at 1 replicas" in finding.message


def test_min_available_allows_three_replicas() -> None:
    manifests = Manifests()
    _min_available_one(manifests)
    _without_hpa(manifests, replicas=3)

    assert check(manifests, "pdb-blocks-drain") == []


def test_hpa_minimum_is_replica_count() -> None:
    manifests = Manifests()
    _min_available_one(manifests)
    # The HPA's minReplicas counts, not a stray spec.replicas beside it.
    manifests.get("Deployment", "api")["spec"]["replicas"] = 5
    manifests.get("HorizontalPodAutoscaler", "api")["spec"]["minReplicas"] = 1

    finding = _expect_one(check(manifests, "pdb-blocks-drain"))

    assert finding.name == "api"
    assert "at 1 replicas" in finding.message


def test_hpa_minimum_three_allows_drain() -> None:
    manifests = Manifests()
    _min_available_one(manifests)

    assert check(manifests, "pdb-blocks-drain") == []


def test_route_to_undefined_subset() -> None:
    manifests = Manifests()
    manifests.route()["route"][0]["destination"]["subset"] = "v2"

    finding = _expect_one(check(manifests, "istio-subset-undefined"))

    assert finding.rule == "istio-subset-undefined"
    assert finding.severity is Severity.ERROR
    assert finding.kind == "VirtualService"
    assert finding.name == "api"
    assert "routes to subset 'v2' of host api" in finding.message
    assert "DestinationRule demo/api defines: v1" in finding.message


def test_tls_secret_mismatch_names_certificate() -> None:
    manifests = Manifests()
    manifests.get("Ingress", "api")["spec"]["tls"][0]["secretName"] = "demo-tls"

    finding = _expect_one(check(manifests, "ref-tls-secret"))

    assert finding.rule == "ref-tls-secret"
    assert finding.severity is Severity.ERROR
    assert finding.kind == "Ingress"
    assert finding.name == "api"
    assert "TLS secret 'demo-tls'" in finding.message
    assert "Certificate demo/demo-api-tls writes 'demo-api-tls'" in finding.message


def test_fault_injection_warns() -> None:
    manifests = Manifests()
    manifests.route()["fault"] = {"abort": {"percentage": {"value": 5.0}, "httpStatus": 503}}

    finding = _expect_one(check(manifests, "istio-fault-injection"))

    assert finding.rule == "istio-fault-injection"
    assert finding.severity is Severity.WARNING
    assert finding.kind == "VirtualService"
    assert finding.name == "api"
    assert "route 'default' injects faults (abort)" in finding.message


def _retries(manifests: Manifests, attempts: int) -> None:
    route = manifests.route()
    route["timeout"] = "10s"
    route["retries"]["attempts"] = attempts
    route["retries"]["perTryTimeout"] = "3s"


def test_retries_exceed_route_timeout() -> None:
    manifests = Manifests()
    _retries(manifests, attempts=3)

    finding = _expect_one(check(manifests, "istio-retry-budget"))

    assert finding.rule == "istio-retry-budget"
    assert finding.severity is Severity.ERROR
    assert finding.kind == "VirtualService"
    assert finding.name == "api"
    assert "4 tries of 3s need 12s, but the route timeout is 10s" in finding.message


def test_retries_fit_route_timeout() -> None:
    manifests = Manifests()
    _retries(manifests, attempts=2)

    assert check(manifests, "istio-retry-budget") == []


def test_ingress_class_annotation() -> None:
    manifests = Manifests()
    ingress = manifests.get("Ingress", "api")
    del ingress["spec"]["ingressClassName"]
    ingress["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}

    finding = _expect_one(check(manifests, "ingress-class"))

    assert finding.rule == "ingress-class"
    assert finding.severity is Severity.ERROR
    assert finding.kind == "Ingress"
    assert finding.name == "api"
    assert "deprecated annotation kubernetes.io/ingress.class: nginx" in finding.message


def test_gpu_resource_as_node_label() -> None:
    manifests = Manifests()
    spec = manifests.pod_spec("model")
    spec["nodeSelector"] = {"nvidia.com/gpu": "true"}
    spec["containers"][0]["env"] = [{"name": "CUDA_VISIBLE_DEVICES", "value": "0"}]

    finding = _expect_one(check(manifests, "gpu-scheduling"))

    assert finding.rule == "gpu-scheduling"
    assert finding.severity is Severity.ERROR
    assert finding.kind == "Deployment"
    assert finding.name == "model"
    assert "nodeSelector uses nvidia.com/gpu, which is a resource name" in finding.message
    assert "container 'model' sets CUDA_VISIBLE_DEVICES" in finding.message
    assert 'no nodeSelector nvidia.com/gpu.present: "true"' in finding.message


def _add_bare_init_container(manifests: Manifests) -> None:
    manifests.pod_spec("api")["initContainers"] = [{
        "name": "migrate",
        "image": MIGRATION_IMAGE,
        "command": ["/app/migrate", "up"],
    }]


def test_init_container_without_resources() -> None:
    manifests = Manifests()
    _add_bare_init_container(manifests)

    finding = _expect_one(check(manifests, "container-resources"))

    assert finding.rule == "container-resources"
    assert finding.severity is Severity.ERROR
    assert finding.kind == "Deployment"
    assert finding.name == "api"
    assert "container 'migrate' sets no requests.cpu, requests.memory, limits.memory" in finding.message


def test_init_container_without_security_context() -> None:
    manifests = Manifests()
    _add_bare_init_container(manifests)

    finding = _expect_one(check(manifests, "pss-restricted"))

    assert finding.rule == "pss-restricted"
    assert finding.severity is Severity.ERROR
    assert finding.kind == "Deployment"
    assert finding.name == "api"
    assert "migrate: allowPrivilegeEscalation != false" in finding.message
    assert "migrate: capabilities.drop lacks ALL" in finding.message


def test_latest_tag_pulled_always() -> None:
    manifests = Manifests()
    container = manifests.container("api")
    container["image"] = "registry.example.com/demo/api:latest"
    container["imagePullPolicy"] = "Always"

    finding = _expect_one(check(manifests, "image-pinned"))

    assert finding.rule == "image-pinned"
    assert finding.severity is Severity.ERROR
    assert finding.kind == "Deployment"
    assert finding.name == "api"
    assert "image 'registry.example.com/demo/api:latest' uses the moving tag `latest`" in finding.message


# Edge cases that rules once got wrong.


def test_cluster_issuer_needs_no_namespace(schema_store: Any) -> None:
    manifests = Manifests()
    manifests.move_to(CONTRACT_NAMESPACE)
    manifests.add({
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "selfsigned"},
        "spec": {"selfSigned": {}},
    })

    assert check(manifests, "contract-namespace", schemas=schema_store, contract=True) == []


def test_cluster_issuer_namespace_reported(schema_store: Any) -> None:
    manifests = Manifests()
    manifests.move_to(CONTRACT_NAMESPACE)
    manifests.add({
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "selfsigned", "namespace": CONTRACT_NAMESPACE},
        "spec": {"selfSigned": {}},
    })

    finding = _expect_one(check(manifests, "contract-namespace", schemas=schema_store, contract=True))

    assert "is cluster-scoped but carries namespace recommend-demo" in finding.message


def test_limits_only_container_is_requested() -> None:
    manifests = Manifests()
    manifests.container("api")["resources"] = {"limits": {"cpu": "500m", "memory": "512Mi"}}

    assert check(manifests, "container-resources") == []


def test_selinux_user_violates_restricted() -> None:
    manifests = Manifests()
    manifests.container("api")["securityContext"]["seLinuxOptions"] = {"user": "system_u"}

    finding = _expect_one(check(manifests, "pss-restricted"))

    assert "seLinuxOptions.user" in finding.message


def test_projected_configmap_must_exist() -> None:
    manifests = Manifests()
    spec = manifests.pod_spec("api")
    spec["volumes"] = [{"name": "config", "projected": {"sources": [{"configMap": {"name": "feature-flags"}}]}}]
    spec["containers"][0]["volumeMounts"] = [{"name": "config", "mountPath": "/etc/api"}]

    finding = _expect_one(check(manifests, "ref-pod-dependency"))

    assert "ConfigMap 'feature-flags'" in finding.message


def test_cuda_devices_without_gpu_request() -> None:
    manifests = Manifests()
    container = manifests.container("model")
    for field in ("requests", "limits"):
        del container["resources"][field]["nvidia.com/gpu"]
    container["env"] = [{"name": "CUDA_VISIBLE_DEVICES", "value": "0"}]

    finding = _expect_one(check(manifests, "gpu-scheduling"))

    assert "CUDA_VISIBLE_DEVICES" in finding.message
