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


@case("istio-route-weights", "VirtualService", "api", "weights summing to 95, not 100", severity=Severity.WARNING)
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


def _public_gateway(credential: str) -> dict[str, Any]:
    """Return an Istio Gateway in demo for the shared ingress gateway, terminating TLS with `credential`."""
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "public", "namespace": "demo"},
        "spec": {
            "selector": {"istio": "ingressgateway"},
            "servers": [{
                "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                "hosts": ["grpc.example.com"],
                "tls": {"mode": "SIMPLE", "credentialName": credential},
            }],
        },
    }


@case("istio-authz-split-rule", "AuthorizationPolicy", "api",
      "`from`-only rules (rules[0]) and `to`-only rules (rules[1])", severity=Severity.WARNING)
def split_authorization_rule(manifests: Manifests) -> None:
    spec = manifests.get("AuthorizationPolicy", "api")["spec"]
    rule_ = spec["rules"][0]
    spec["rules"] = [{"from": rule_["from"]}, {"to": rule_["to"]}]


@case("istio-probe-mtls", "Deployment", "api",
      "the readinessProbe of container 'api' (httpGet, port 8080), the livenessProbe of container 'api' (httpGet, port 8080)")
def disable_probe_rewrite(manifests: Manifests) -> None:
    template = manifests.get("Deployment", "api")["spec"]["template"]
    template["metadata"]["annotations"] = {"sidecar.istio.io/rewriteAppHTTPProbers": "false"}


@case("istio-gateway-credential", "Gateway", "public",
      "written only in namespace demo, but the selector (istio: ingressgateway) matches no pod template in demo")
def terminate_tls_on_shared_gateway(manifests: Manifests) -> None:
    manifests.add(_public_gateway("demo-api-tls"))


@case("certificate-hosts", "Ingress", "api",
      "tls[0] serves www.example.com with Secret 'demo-api-tls', but the dnsNames of Certificate demo/demo-api-tls "
      "(api.example.com) do not cover them")
def serve_host_missing_from_certificate(manifests: Manifests) -> None:
    manifests.get("Ingress", "api")["spec"]["tls"][0]["hosts"].append("www.example.com")


@case("certificate-duplicate-writer", "Ingress", "api",
      "Secret 'demo-api-tls' has 2 writers: Certificate demo/demo-api-tls; Ingress demo/api through ingress-shim")
def annotate_ingress_for_shim(manifests: Manifests) -> None:
    manifests.get("Ingress", "api")["metadata"]["annotations"] = {"cert-manager.io/issuer": "letsencrypt"}


@case("acme-http01-auth", "Issuer", "letsencrypt",
      "solvers[0].http01.ingress.name edits Ingress demo/api in place to solve ACME HTTP-01 challenges, "
      "but that Ingress rejects anonymous requests (nginx.ingress.kubernetes.io/auth-type: basic)")
def solve_challenges_on_authenticated_ingress(manifests: Manifests) -> None:
    manifests.get("Issuer", "letsencrypt")["spec"]["acme"]["solvers"][0]["http01"]["ingress"] = {"name": "api"}
    manifests.get("Ingress", "api")["metadata"]["annotations"] = {
        "nginx.ingress.kubernetes.io/auth-type": "basic",
        "nginx.ingress.kubernetes.io/auth-secret": "api-basic-auth",
    }


@case("startup-probe-missing", "Deployment", "model", "container 'model' requests nvidia.com/gpu",
      severity=Severity.WARNING)
def drop_model_startup_probe(manifests: Manifests) -> None:
    del manifests.container("model")["startupProbe"]


@case("readonly-root-no-tmp", "Deployment", "api",
      "container 'api' sets readOnlyRootFilesystem: true and mounts nothing at /tmp", severity=Severity.WARNING)
def drop_tmp_mount(manifests: Manifests) -> None:
    del manifests.container("api")["volumeMounts"]


@case("non-root-numeric-user", "Deployment", "api",
      "container 'api' must run as non-root (runAsNonRoot: true on the pod), but neither it nor the pod sets runAsUser",
      severity=Severity.WARNING)
def drop_pod_run_as_user(manifests: Manifests) -> None:
    del manifests.pod_spec("api")["securityContext"]["runAsUser"]


def _case_manifests(table_case: Case) -> Manifests:
    manifests = Manifests()
    if table_case.context == CONTRACT_CONTEXT:
        manifests.move_to(CONTRACT_NAMESPACE)
    return manifests


def _case_findings(table_case: Case, manifests: Manifests, request: pytest.FixtureRequest) -> list[Finding]:
    schemas = request.getfixturevalue("schema_store") if table_case.context == SCHEMAS else None
    return check(manifests, table_case.rule, schemas=schemas, contract=table_case.context == CONTRACT_CONTEXT)


def test_table_covers_every_rule() -> None:
    from tests.test_kustomize_rules import TREE_RULES

    covered = {c.rule for c in CASES}
    # Rules that read the kustomization tree are tested on real trees there.
    assert sorted(set(RULES) - covered - TREE_RULES) == [], "rules without a case in CASES or TREE_RULES"
    assert sorted(TREE_RULES - set(RULES)) == [], "TREE_RULES names rule ids that RULES does not have"
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


# Istio AuthorizationPolicy rules: one rule contains both `from` and `to`.


def test_authz_rules_each_complete_pass() -> None:
    manifests = Manifests()
    rules = manifests.get("AuthorizationPolicy", "api")["spec"]["rules"]
    rules.append({
        "from": [{"source": {"principals": ["cluster.local/ns/demo/sa/api"]}}],
        "to": [{"operation": {"ports": ["9090"]}}],
    })

    assert check(manifests, "istio-authz-split-rule") == []


def test_authz_split_deny_policy_warns() -> None:
    manifests = Manifests()
    manifests.add({
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "deny-admin", "namespace": "demo"},
        "spec": {
            "action": "DENY",
            "rules": [
                {"from": [{"source": {"notNamespaces": ["demo"]}}]},
                {"to": [{"operation": {"paths": ["/admin/*"]}}]},
            ],
        },
    })

    finding = _expect_one(check(manifests, "istio-authz-split-rule"))

    assert finding.severity is Severity.WARNING
    assert finding.kind == "AuthorizationPolicy"
    assert finding.name == "deny-admin"
    assert "deny every request from their sources" in finding.message


def test_authz_from_with_when_is_not_split() -> None:
    manifests = Manifests()
    spec = manifests.get("AuthorizationPolicy", "api")["spec"]
    rule_ = spec["rules"][0]
    when = [{"key": "request.headers[x-team]", "values": ["search"]}]
    spec["rules"] = [{"from": rule_["from"], "when": when}, {"to": rule_["to"]}]

    assert check(manifests, "istio-authz-split-rule") == []


# Kubelet probes under mTLS: the sidecar rewrites them unless the pod template disables it.


def _disable_probe_rewrite(manifests: Manifests, deployment: str) -> dict[str, Any]:
    template = manifests.get("Deployment", deployment)["spec"]["template"]
    template["metadata"]["annotations"] = {"sidecar.istio.io/rewriteAppHTTPProbers": "false"}
    return template


def test_probe_rewrite_default_passes() -> None:
    manifests = Manifests()
    manifests.get("Deployment", "api")["spec"]["template"]["metadata"]["annotations"] = {
        "sidecar.istio.io/rewriteAppHTTPProbers": "true",
    }

    assert check(manifests, "istio-probe-mtls") == []


def test_probe_exec_without_rewrite_passes() -> None:
    manifests = Manifests()
    _disable_probe_rewrite(manifests, "api")
    container = manifests.container("api")
    for probe in ("readinessProbe", "livenessProbe"):
        container[probe] = {"exec": {"command": ["/app/healthcheck"]}}

    assert check(manifests, "istio-probe-mtls") == []


def test_probe_grpc_under_strict_fails() -> None:
    manifests = Manifests()
    _disable_probe_rewrite(manifests, "model")

    finding = _expect_one(check(manifests, "istio-probe-mtls"))

    assert finding.kind == "Deployment"
    assert finding.name == "model"
    assert "the startupProbe of container 'model' (grpc, port 50051)" in finding.message
    assert "PeerAuthentication demo/default requires mtls STRICT" in finding.message
    assert "AuthorizationPolicy" not in finding.message


def test_probe_allow_policy_without_strict_fails() -> None:
    manifests = Manifests()
    manifests.get("PeerAuthentication", "default")["spec"]["mtls"]["mode"] = "PERMISSIVE"
    _disable_probe_rewrite(manifests, "api")

    finding = _expect_one(check(manifests, "istio-probe-mtls"))

    assert finding.name == "api"
    assert "no rule of ALLOW AuthorizationPolicy demo/api matches a request without a mesh identity" in finding.message
    assert "STRICT" not in finding.message


def test_probe_port_level_permissive_passes() -> None:
    manifests = Manifests()
    _disable_probe_rewrite(manifests, "model")
    manifests.add({
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "model", "namespace": "demo"},
        "spec": {
            "selector": {"matchLabels": {"app": "model"}},
            "mtls": {"mode": "STRICT"},
            "portLevelMtls": {50051: {"mode": "PERMISSIVE"}},
        },
    })

    assert check(manifests, "istio-probe-mtls") == []


def test_probe_excluded_port_passes() -> None:
    manifests = Manifests()
    template = _disable_probe_rewrite(manifests, "model")
    template["metadata"]["annotations"]["traffic.sidecar.istio.io/excludeInboundPorts"] = "50051"

    assert check(manifests, "istio-probe-mtls") == []


def test_probe_without_sidecar_passes() -> None:
    manifests = Manifests()
    template = _disable_probe_rewrite(manifests, "model")
    template["metadata"]["labels"]["sidecar.istio.io/inject"] = "false"

    assert check(manifests, "istio-probe-mtls") == []


# Istio Gateway credentials live in the namespace of the gateway pods.


def _gateway_deployment() -> dict[str, Any]:
    """Return a gateway Deployment in demo whose pods carry istio: ingressgateway."""
    labels = {"app": "demo-gateway", "istio": "ingressgateway"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "demo-gateway", "namespace": "demo"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": {"inject.istio.io/templates": "gateway"}},
                "spec": {"containers": [{"name": "istio-proxy", "image": "auto"}]},
            },
        },
    }


def test_gateway_pods_beside_certificate_pass() -> None:
    manifests = Manifests()
    manifests.add(_public_gateway("demo-api-tls"))
    manifests.add(_gateway_deployment())

    assert check(manifests, "istio-gateway-credential") == []


def test_gateway_credential_written_nowhere() -> None:
    manifests = Manifests()
    manifests.add(_public_gateway("grpc-tls"))
    manifests.add(_gateway_deployment())

    finding = _expect_one(check(manifests, "istio-gateway-credential"))

    assert finding.severity is Severity.ERROR
    assert finding.kind == "Gateway"
    assert finding.name == "public"
    assert "credentialName 'grpc-tls'" in finding.message
    assert "(Deployment demo/demo-gateway), but namespace demo has no such Secret" in finding.message
    assert "No Secret, Certificate or ExternalSecret in the render writes it" in finding.message


def test_gateway_pods_in_other_namespace() -> None:
    manifests = Manifests()
    manifests.add(_public_gateway("demo-api-tls"))
    gateway_pods = manifests.add(_gateway_deployment())
    gateway_pods["metadata"]["namespace"] = "istio-system"

    finding = _expect_one(check(manifests, "istio-gateway-credential"))

    assert "(Deployment istio-system/demo-gateway), but namespace istio-system has no such Secret" in finding.message
    assert "It is written only in demo." in finding.message
    assert "Write Secret demo-api-tls in namespace istio-system" in finding.fix


def test_gateway_credential_from_platform_passes() -> None:
    manifests = Manifests()
    manifests.add(_public_gateway("wildcard-example-com"))

    assert check(manifests, "istio-gateway-credential") == []


def test_gateway_credential_names_list_checked() -> None:
    manifests = Manifests()
    gateway = manifests.add(_public_gateway("unused"))
    tls = gateway["spec"]["servers"][0]["tls"]
    del tls["credentialName"]
    tls["credentialNames"] = ["demo-api-tls"]

    finding = _expect_one(check(manifests, "istio-gateway-credential"))

    assert "credentialName 'demo-api-tls'" in finding.message


# Certificate hosts: the Certificate behind a TLS block names every host.


def test_certificate_wildcard_covers_hosts() -> None:
    manifests = Manifests()
    manifests.get("Ingress", "api")["spec"]["tls"][0]["hosts"].append("www.example.com")
    manifests.get("Certificate", "demo-api-tls")["spec"]["dnsNames"] = ["*.example.com"]

    assert check(manifests, "certificate-hosts") == []


def test_certificate_wildcard_covers_one_label() -> None:
    manifests = Manifests()
    manifests.get("Ingress", "api")["spec"]["tls"][0]["hosts"] = ["api.example.com", "eu.api.example.com", "example.com"]
    manifests.get("Certificate", "demo-api-tls")["spec"]["dnsNames"] = ["*.example.com"]

    finding = _expect_one(check(manifests, "certificate-hosts"))

    assert finding.kind == "Ingress"
    assert finding.name == "api"
    assert "serves eu.api.example.com, example.com with Secret 'demo-api-tls'" in finding.message


def test_certificate_common_name_does_not_cover() -> None:
    manifests = Manifests()
    manifests.get("Ingress", "api")["spec"]["tls"][0]["hosts"].append("www.example.com")
    manifests.get("Certificate", "demo-api-tls")["spec"]["commonName"] = "www.example.com"

    finding = _expect_one(check(manifests, "certificate-hosts"))

    assert "The commonName does not count" in finding.message


# Secret writers: one Certificate, one ingress-shim Ingress or one ExternalSecret per Secret.


def test_shim_annotation_alone_passes() -> None:
    manifests = Manifests()
    manifests.remove("Certificate", "demo-api-tls")
    manifests.get("Ingress", "api")["metadata"]["annotations"] = {"cert-manager.io/cluster-issuer": "letsencrypt"}

    assert check(manifests, "certificate-duplicate-writer") == []


def test_two_certificates_one_secret() -> None:
    manifests = Manifests()
    www = manifests.clone("Certificate", "demo-api-tls", "demo-www-tls")
    www["spec"]["dnsNames"] = ["www.example.com"]

    finding = _expect_one(check(manifests, "certificate-duplicate-writer"))

    assert finding.severity is Severity.ERROR
    assert finding.kind == "Certificate"
    assert finding.name == "demo-www-tls"
    assert "Certificate demo/demo-api-tls; Certificate demo/demo-www-tls" in finding.message
    assert "merge the dnsNames into one Certificate" in finding.fix


def test_same_secret_other_namespace_passes() -> None:
    manifests = Manifests()
    other = manifests.clone("Certificate", "demo-api-tls", "demo-api-tls-staging")
    other["metadata"]["namespace"] = "demo-staging"

    assert check(manifests, "certificate-duplicate-writer") == []


# ACME HTTP-01 challenges must reach the solver without authentication.


def test_http01_class_solver_with_auth_passes() -> None:
    manifests = Manifests()
    manifests.get("Ingress", "api")["metadata"]["annotations"] = {
        "nginx.ingress.kubernetes.io/auth-url": "https://auth.example.com/oauth2/auth",
        "nginx.ingress.kubernetes.io/auth-signin": "https://auth.example.com/oauth2/start",
    }

    assert check(manifests, "acme-http01-auth") == []


def test_http01_named_ingress_without_auth_passes() -> None:
    manifests = Manifests()
    manifests.get("Issuer", "letsencrypt")["spec"]["acme"]["solvers"][0]["http01"]["ingress"] = {"name": "api"}

    assert check(manifests, "acme-http01-auth") == []


def test_http01_client_certificate_blocks() -> None:
    manifests = Manifests()
    manifests.get("Issuer", "letsencrypt")["spec"]["acme"]["solvers"][0]["http01"]["ingress"] = {"name": "api"}
    manifests.get("Ingress", "api")["metadata"]["annotations"] = {
        "nginx.ingress.kubernetes.io/auth-tls-verify-client": "on",
        "nginx.ingress.kubernetes.io/auth-tls-secret": "demo/client-ca",
    }

    finding = _expect_one(check(manifests, "acme-http01-auth"))

    assert "nginx.ingress.kubernetes.io/auth-tls-verify-client: on" in finding.message


def test_http01_edit_in_place_annotation() -> None:
    manifests = Manifests()
    manifests.remove("Certificate", "demo-api-tls")
    manifests.get("Ingress", "api")["metadata"]["annotations"] = {
        "cert-manager.io/issuer": "letsencrypt",
        "acme.cert-manager.io/http01-edit-in-place": "true",
        "nginx.ingress.kubernetes.io/whitelist-source-range": "10.0.0.0/8",
    }

    finding = _expect_one(check(manifests, "acme-http01-auth"))

    assert finding.kind == "Ingress"
    assert finding.name == "api"
    assert "rejects anonymous requests (nginx.ingress.kubernetes.io/whitelist-source-range: 10.0.0.0/8)" in finding.message


# hpa-resource-request: native sidecars and the injected istio-proxy count too.


def _add_native_sidecar(manifests: Manifests, requests: dict[str, str]) -> None:
    manifests.pod_spec("api")["initContainers"] = [{
        "name": "log-shipper",
        "image": MIGRATION_IMAGE,
        "restartPolicy": "Always",
        "resources": {"requests": requests, "limits": {"memory": "64Mi"}},
    }]


def _proxy_annotations(manifests: Manifests, annotations: dict[str, str]) -> None:
    manifests.get("Deployment", "api")["spec"]["template"]["metadata"]["annotations"] = annotations


def _scale_on_memory(manifests: Manifests) -> None:
    manifests.get("HorizontalPodAutoscaler", "api")["spec"]["metrics"].append({
        "type": "Resource",
        "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}},
    })


def test_hpa_native_sidecar_without_request() -> None:
    manifests = Manifests()
    _add_native_sidecar(manifests, {"memory": "32Mi"})

    finding = _expect_one(check(manifests, "hpa-resource-request"))

    assert finding.kind == "HorizontalPodAutoscaler"
    assert "containers ['log-shipper'] request no cpu" in finding.message
    assert "native sidecars (init containers with restartPolicy: Always) included" in finding.fix


def test_hpa_native_sidecar_with_request_passes() -> None:
    manifests = Manifests()
    _add_native_sidecar(manifests, {"cpu": "10m", "memory": "32Mi"})

    assert check(manifests, "hpa-resource-request") == []


def test_hpa_proxy_cpu_drops_memory_request() -> None:
    manifests = Manifests()
    _scale_on_memory(manifests)
    _proxy_annotations(manifests, {"sidecar.istio.io/proxyCPU": "100m"})

    finding = _expect_one(check(manifests, "hpa-resource-request"))

    assert finding.severity is Severity.ERROR
    assert "sets sidecar.istio.io/proxyCPU without sidecar.istio.io/proxyMemory" in finding.message
    assert "the istio-proxy container requests no memory" in finding.message


def test_hpa_proxy_both_requests_pass() -> None:
    manifests = Manifests()
    _scale_on_memory(manifests)
    _proxy_annotations(manifests, {"sidecar.istio.io/proxyCPU": "100m", "sidecar.istio.io/proxyMemory": "128Mi"})

    assert check(manifests, "hpa-resource-request") == []


def test_hpa_proxy_memory_limit_becomes_request() -> None:
    manifests = Manifests()
    _scale_on_memory(manifests)
    _proxy_annotations(manifests, {"sidecar.istio.io/proxyCPU": "100m", "sidecar.istio.io/proxyMemoryLimit": "256Mi"})

    assert check(manifests, "hpa-resource-request") == []


def test_hpa_proxy_zero_cpu_warns() -> None:
    manifests = Manifests()
    _proxy_annotations(manifests, {"sidecar.istio.io/proxyCPU": "0"})

    finding = _expect_one(check(manifests, "hpa-resource-request"))

    assert finding.severity is Severity.WARNING
    assert "sets sidecar.istio.io/proxyCPU: \"0\", so the istio-proxy container requests no cpu" in finding.message


def test_hpa_proxy_empty_cpu_fails() -> None:
    manifests = Manifests()
    _proxy_annotations(manifests, {"sidecar.istio.io/proxyCPU": ""})

    finding = _expect_one(check(manifests, "hpa-resource-request"))

    assert finding.severity is Severity.ERROR
    assert "sets sidecar.istio.io/proxyCPU to an empty value" in finding.message


def test_hpa_proxy_outside_mesh_passes() -> None:
    manifests = Manifests()
    del manifests.get("Namespace", "demo")["metadata"]["labels"]["istio-injection"]
    _proxy_annotations(manifests, {"sidecar.istio.io/proxyCPU": "0"})

    assert check(manifests, "hpa-resource-request") == []


def test_hpa_proxy_opt_in_label_checked() -> None:
    manifests = Manifests()
    del manifests.get("Namespace", "demo")["metadata"]["labels"]["istio-injection"]
    _proxy_annotations(manifests, {"sidecar.istio.io/proxyCPU": ""})
    manifests.get("Deployment", "api")["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] = "true"

    finding = _expect_one(check(manifests, "hpa-resource-request"))

    assert "sidecar.istio.io/proxyCPU to an empty value" in finding.message


# Startup probes for containers that start slowly.


def test_long_liveness_delay_needs_startup_probe() -> None:
    manifests = Manifests()
    manifests.container("api")["livenessProbe"]["initialDelaySeconds"] = 60

    finding = _expect_one(check(manifests, "startup-probe-missing"))

    assert finding.severity is Severity.WARNING
    assert finding.name == "api"
    assert "container 'api' delays its livenessProbe by initialDelaySeconds: 60" in finding.message
    assert "kills it about 90s after start" in finding.message


def test_short_liveness_delay_passes() -> None:
    manifests = Manifests()
    manifests.container("api")["livenessProbe"]["initialDelaySeconds"] = 10

    assert check(manifests, "startup-probe-missing") == []


def test_gpu_container_with_startup_probe_passes() -> None:
    manifests = Manifests()
    manifests.container("model")["livenessProbe"]["initialDelaySeconds"] = 120

    assert check(manifests, "startup-probe-missing") == []


# A read-only root filesystem needs a writable /tmp.


def test_tmp_from_config_map_is_read_only() -> None:
    manifests = Manifests()
    manifests.pod_spec("api")["volumes"] = [{"name": "tmp", "configMap": {"name": "api-config"}}]

    finding = _expect_one(check(manifests, "readonly-root-no-tmp"))

    assert "its /tmp mount does not help: volume 'tmp' at /tmp is read-only (configMap)" in finding.message


def test_tmpdir_on_writable_volume_passes() -> None:
    manifests = Manifests()
    container = manifests.container("api")
    container["volumeMounts"] = [{"name": "tmp", "mountPath": "/scratch"}]
    container["env"] = [{"name": "TMPDIR", "value": "/scratch/tmp"}]

    assert check(manifests, "readonly-root-no-tmp") == []


def test_writable_root_needs_no_tmp() -> None:
    manifests = Manifests()
    container = manifests.container("api")
    del container["volumeMounts"]
    container["securityContext"]["readOnlyRootFilesystem"] = False

    assert check(manifests, "readonly-root-no-tmp") == []


# runAsNonRoot needs a numeric runAsUser that the kubelet can check.


def test_container_run_as_user_passes() -> None:
    manifests = Manifests()
    del manifests.pod_spec("api")["securityContext"]["runAsUser"]
    manifests.container("api")["securityContext"]["runAsUser"] = 10001

    assert check(manifests, "non-root-numeric-user") == []


def test_container_non_root_without_user() -> None:
    manifests = Manifests()
    pod = manifests.pod_spec("model")["securityContext"]
    del pod["runAsUser"]
    del pod["runAsNonRoot"]
    manifests.container("model")["securityContext"]["runAsNonRoot"] = True

    finding = _expect_one(check(manifests, "non-root-numeric-user"))

    assert finding.name == "model"
    assert "(runAsNonRoot: true on the container)" in finding.message


def test_container_opts_out_of_non_root() -> None:
    manifests = Manifests()
    del manifests.pod_spec("api")["securityContext"]["runAsUser"]
    manifests.container("api")["securityContext"]["runAsNonRoot"] = False

    assert check(manifests, "non-root-numeric-user") == []


def test_all_zero_weights_rejected() -> None:
    manifests = Manifests()
    manifests.get("DestinationRule", "api")["spec"]["subsets"].append({"name": "v2", "labels": {"version": "v2"}})
    manifests.route()["route"] = [
        {"destination": {"host": "api", "subset": "v1"}},
        {"destination": {"host": "api", "subset": "v2"}},
    ]

    finding = _expect_one(check(manifests, "istio-route-weights"))

    assert finding.severity is Severity.ERROR
    assert "weights are all 0" in finding.message


def test_subset_in_destination_namespace() -> None:
    manifests = Manifests()
    manifests.route()["route"] = [{"destination": {"host": "pay.payments.svc.cluster.local", "subset": "v1"}}]
    manifests.add({
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": {"name": "pay", "namespace": "payments"},
        "spec": {"host": "pay", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]},
    })

    assert check(manifests, "istio-subset-undefined") == []


def test_subset_rule_for_other_namespace() -> None:
    manifests = Manifests()
    # DestinationRule api in demo defines subset v1 for demo's api, not for other's.
    manifests.route()["route"] = [{"destination": {"host": "api.other", "subset": "v1"}}]

    finding = _expect_one(check(manifests, "istio-subset-undefined"))

    assert "subset 'v1' of host api.other" in finding.message


def test_hex_word_host_checked() -> None:
    manifests = Manifests()
    config = next(o for o in manifests.objects if o["kind"] == "ConfigMap")
    config["data"]["DB_HOST"] = "db"

    finding = _expect_one(check(manifests, "ref-dependency-host"))

    assert "no Service db" in finding.message


def test_ip_address_host_skipped() -> None:
    manifests = Manifests()
    config = next(o for o in manifests.objects if o["kind"] == "ConfigMap")
    config["data"]["STATSD_HOST"] = "10.0.0.7"
    config["data"]["PROXY_URL"] = "http://[::1]:15000"

    assert check(manifests, "ref-dependency-host") == []
