"""Tests of reck8s.schema against the real Kubernetes OpenAPI documents and CRD files.

The schema files are the ones that `reck8s check` reads: the cache that
`make setup` fills with the versions pinned in tools/schemas.yaml, namely the
Kubernetes OpenAPI documents and the CRDs of Istio, cert-manager and External
Secrets. Each behaviour has a failing case and a nearly identical passing case.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from reck8s.schema import SchemaLoadError, SchemaStore, SchemaViolation
from reck8s.toolchain import load_pins, require_schemas

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def schema_files() -> tuple[Path, list[Path]]:
    """Return the pinned OpenAPI directory and CRD files in the reck8s cache.

    When a file is missing, require_schemas raises UsageError, whose message
    names `make setup`, and the test fails.
    """
    return require_schemas(load_pins(ROOT))


@pytest.fixture(scope="module")
def openapi_dir(schema_files: tuple[Path, list[Path]]) -> Path:
    return schema_files[0]


@pytest.fixture(scope="module")
def store(schema_files: tuple[Path, list[Path]]) -> SchemaStore:
    return SchemaStore.load(*schema_files)


def _parse(text: str) -> dict[str, Any]:
    return yaml.safe_load(text)


def _paths(violations: list[SchemaViolation]) -> list[str]:
    return [violation.path for violation in violations]


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app.kubernetes.io/name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        ports:
        - containerPort: 8080
        - containerPort: 8080
          protocol: UDP
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {cpu: "1", memory: 1Gi}
"""

SERVICE = """
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
"""

VIRTUAL_SERVICE = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: web
spec:
  hosts: [web.shop.svc.cluster.local]
  http:
  - match:
    - uri: {prefix: /api}
    route:
    - destination: {host: web, port: {number: 80}}
      weight: 100
    timeout: 5s
"""

CERTIFICATE = """
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: web-tls
spec:
  secretName: web-tls
  dnsNames: [web.example.com]
  issuerRef: {name: letsencrypt, kind: ClusterIssuer}
"""

EXTERNAL_SECRET = """
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: db
spec:
  refreshInterval: 1h
  secretStoreRef: {name: vault, kind: ClusterSecretStore}
  target: {name: db-credentials}
  data:
  - secretKey: password
    remoteRef: {key: shop/db, property: password}
"""

CLUSTER_ISSUER = """
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: selfsigned
spec:
  selfSigned: {}
"""

WASM_PLUGIN = """
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: auth
spec:
  selector:
    matchLabels: {app: web}
  url: oci://registry.example.com/auth:1.0
  phase: AUTHN
  vmConfig:
    env:
    - name: LOG_LEVEL
      value: info
    - name: POD_NAME
      valueFrom: HOST
"""


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_deployment_valid_passes(store: SchemaStore) -> None:
    assert store.validate(_parse(DEPLOYMENT)) == []


def test_misspelled_field_names_path(store: SchemaStore) -> None:
    deployment = _parse(DEPLOYMENT)
    _container(deployment)["resourcs"] = _container(deployment).pop("resources")

    violations = store.validate(deployment)

    assert violations == [
        SchemaViolation("spec.template.spec.containers[0].resourcs", 'unknown field "resourcs"')
    ]


def test_replicas_string_rejected(store: SchemaStore) -> None:
    deployment = _parse(DEPLOYMENT)
    deployment["spec"]["replicas"] = "3"

    violations = store.validate(deployment)

    assert _paths(violations) == ["spec.replicas"]
    assert violations[0].message == 'invalid type: expected integer, got string "3"'


def test_replicas_integer_accepted(store: SchemaStore) -> None:
    deployment = _parse(DEPLOYMENT)
    deployment["spec"]["replicas"] = 5
    assert store.validate(deployment) == []


def test_replicas_int32_overflow_rejected(store: SchemaStore) -> None:
    deployment = _parse(DEPLOYMENT)
    deployment["spec"]["replicas"] = 2**31

    violations = store.validate(deployment)

    assert _paths(violations) == ["spec.replicas"]
    assert "out of range for int32" in violations[0].message


@pytest.mark.parametrize("quantity", ["1Gi", "100m", "1e3", "0.5", 2, 1.5, "+1.5Ki", ".5"])
def test_quantity_valid_accepted(store: SchemaStore, quantity: Any) -> None:
    deployment = _parse(DEPLOYMENT)
    _container(deployment)["resources"]["limits"]["memory"] = quantity
    assert store.validate(deployment) == []


@pytest.mark.parametrize("quantity", ["1 GB", "1GB", "", "Gi", "1.2.3", "1e", True])
def test_quantity_invalid_rejected(store: SchemaStore, quantity: Any) -> None:
    deployment = _parse(DEPLOYMENT)
    _container(deployment)["resources"]["limits"]["memory"] = quantity

    violations = store.validate(deployment)

    assert _paths(violations) == ["spec.template.spec.containers[0].resources.limits.memory"]
    assert violations[0].message.startswith("invalid quantity")


def test_duplicate_container_names_rejected(store: SchemaStore) -> None:
    deployment = _parse(DEPLOYMENT)
    containers = deployment["spec"]["template"]["spec"]["containers"]
    containers.append({**copy.deepcopy(containers[0]), "image": "busybox"})

    violations = store.validate(deployment)

    assert _paths(violations) == ["spec.template.spec.containers[1]"]
    assert violations[0].message == 'duplicate entry for key name="app"; the first one is at index 0'


def test_distinct_container_names_accepted(store: SchemaStore) -> None:
    deployment = _parse(DEPLOYMENT)
    containers = deployment["spec"]["template"]["spec"]["containers"]
    containers.append({**copy.deepcopy(containers[0]), "name": "sidecar", "image": "busybox"})
    assert store.validate(deployment) == []


def test_duplicate_port_default_protocol(store: SchemaStore) -> None:
    deployment = _parse(DEPLOYMENT)
    # The second port differs only by spelling out protocol TCP, which is the default.
    _container(deployment)["ports"][1] = {"containerPort": 8080, "protocol": "TCP"}

    violations = store.validate(deployment)

    assert _paths(violations) == ["spec.template.spec.containers[0].ports[1]"]
    assert violations[0].message == (
        'duplicate entry for key containerPort=8080, protocol="TCP"; the first one is at index 0'
    )


def test_service_valid_passes(store: SchemaStore) -> None:
    assert store.validate(_parse(SERVICE)) == []


def test_service_name_needs_dns1035(store: SchemaStore) -> None:
    service = _parse(SERVICE)
    service["metadata"]["name"] = "1web"

    violations = store.validate(service)

    assert _paths(violations) == ["metadata.name"]
    assert violations[0].message.startswith('invalid name "1web": must be an RFC 1035 label')


def test_label_value_invalid_rejected(store: SchemaStore) -> None:
    deployment = _parse(DEPLOYMENT)
    deployment["metadata"]["labels"]["app.kubernetes.io/name"] = "web server"

    violations = store.validate(deployment)

    assert _paths(violations) == ["metadata.labels[app.kubernetes.io/name]"]
    assert violations[0].message.startswith('invalid label value "web server"')


def test_label_value_too_long(store: SchemaStore) -> None:
    deployment = _parse(DEPLOYMENT)
    deployment["metadata"]["labels"]["app.kubernetes.io/name"] = "w" * 64

    violations = store.validate(deployment)

    assert _paths(violations) == ["metadata.labels[app.kubernetes.io/name]"]
    assert violations[0].message.endswith("must be at most 63 characters")


def test_label_value_max_length_accepted(store: SchemaStore) -> None:
    deployment = _parse(DEPLOYMENT)
    deployment["metadata"]["labels"]["app.kubernetes.io/name"] = "w" * 63
    assert store.validate(deployment) == []


def test_label_key_invalid_rejected(store: SchemaStore) -> None:
    deployment = _parse(DEPLOYMENT)
    deployment["spec"]["template"]["metadata"]["labels"] = {"Example.com/app": "web"}

    violations = store.validate(deployment)

    assert _paths(violations) == ["spec.template.metadata.labels[Example.com/app]"]
    assert violations[0].message.startswith('invalid label key "Example.com/app"')


def test_missing_name_rejected(store: SchemaStore) -> None:
    service = _parse(SERVICE)
    del service["metadata"]["name"]

    violations = store.validate(service)

    assert _paths(violations) == ["metadata.name"]
    assert violations[0].message.startswith('missing required field "name"')


def test_generate_name_replaces_name(store: SchemaStore) -> None:
    service = _parse(SERVICE)
    del service["metadata"]["name"]
    service["metadata"]["generateName"] = "web-"
    assert store.validate(service) == []


def test_metadata_unknown_field_rejected(store: SchemaStore) -> None:
    service = _parse(SERVICE)
    service["metadata"]["label"] = {"app": "web"}
    assert store.validate(service) == [SchemaViolation("metadata.label", 'unknown field "label"')]


def test_virtualservice_valid_passes(store: SchemaStore) -> None:
    assert store.validate(_parse(VIRTUAL_SERVICE)) == []


def test_virtualservice_unknown_field_rejected(store: SchemaStore) -> None:
    virtual_service = _parse(VIRTUAL_SERVICE)
    route = virtual_service["spec"]["http"][0]["route"][0]
    route["weigth"] = route.pop("weight")

    violations = store.validate(virtual_service)

    assert violations == [SchemaViolation("spec.http[0].route[0].weigth", 'unknown field "weigth"')]


def test_virtualservice_metadata_uses_objectmeta(store: SchemaStore) -> None:
    virtual_service = _parse(VIRTUAL_SERVICE)
    virtual_service["metadata"]["name"] = "Web_VS"

    violations = store.validate(virtual_service)

    assert _paths(violations) == ["metadata.name"]
    assert violations[0].message.startswith('invalid name "Web_VS": must be a lowercase RFC 1123 subdomain')


def test_virtualservice_uri_oneof_rejected(store: SchemaStore) -> None:
    virtual_service = _parse(VIRTUAL_SERVICE)
    virtual_service["spec"]["http"][0]["match"][0]["uri"] = {"prefix": "/api", "exact": "/api/v1"}

    violations = store.validate(virtual_service)

    assert violations == [
        SchemaViolation(
            "spec.http[0].match[0].uri",
            'only one of "exact", "prefix", "regex" may be set, but "exact", "prefix" are set',
        )
    ]


def test_virtualservice_empty_uri_accepted(store: SchemaStore) -> None:
    virtual_service = _parse(VIRTUAL_SERVICE)
    virtual_service["spec"]["http"][0]["match"][0]["uri"] = {}
    assert store.validate(virtual_service) == []


def test_certificate_valid_passes(store: SchemaStore) -> None:
    assert store.validate(_parse(CERTIFICATE)) == []


def test_certificate_missing_secret_name(store: SchemaStore) -> None:
    certificate = _parse(CERTIFICATE)
    del certificate["spec"]["secretName"]

    violations = store.validate(certificate)

    assert violations == [SchemaViolation("spec.secretName", 'missing required field "secretName"')]


def test_certificate_missing_issuer_name(store: SchemaStore) -> None:
    certificate = _parse(CERTIFICATE)
    del certificate["spec"]["issuerRef"]["name"]

    violations = store.validate(certificate)

    assert violations == [SchemaViolation("spec.issuerRef.name", 'missing required field "name"')]


def test_externalsecret_valid_passes(store: SchemaStore) -> None:
    assert store.validate(_parse(EXTERNAL_SECRET)) == []


def test_externalsecret_bad_store_kind(store: SchemaStore) -> None:
    external_secret = _parse(EXTERNAL_SECRET)
    external_secret["spec"]["secretStoreRef"]["kind"] = "Vault"

    violations = store.validate(external_secret)

    assert _paths(violations) == ["spec.secretStoreRef.kind"]
    assert violations[0].message == (
        'unsupported value "Vault"; supported values: "SecretStore", "ClusterSecretStore"'
    )


def test_externalsecret_missing_remote_key(store: SchemaStore) -> None:
    external_secret = _parse(EXTERNAL_SECRET)
    del external_secret["spec"]["data"][0]["remoteRef"]["key"]

    violations = store.validate(external_secret)

    assert violations == [SchemaViolation("spec.data[0].remoteRef.key", 'missing required field "key"')]


def test_pattern_dollar_rejects_newline(store: SchemaStore) -> None:
    # The CRD's pattern ends in "$", which in Go's RE2 does not match before a final newline.
    external_secret = _parse(EXTERNAL_SECRET)
    external_secret["spec"]["data"][0]["secretKey"] = "password\n"

    violations = store.validate(external_secret)

    assert _paths(violations) == ["spec.data[0].secretKey"]
    assert violations[0].message.startswith('invalid value "password\\n": must match the regular expression')


def test_certificate_renewal_window_valid(store: SchemaStore) -> None:
    certificate = _parse(CERTIFICATE)
    certificate["spec"]["renewal"] = {
        "policy": "RenewBefore",
        "windows": [{"cron": "0 2 * * *", "windowDuration": "1h30m"}],
    }
    assert store.validate(certificate) == []


def test_certificate_bad_window_duration(store: SchemaStore) -> None:
    certificate = _parse(CERTIFICATE)
    certificate["spec"]["renewal"] = {
        "policy": "RenewBefore",
        "windows": [{"cron": "0 2 * * *", "windowDuration": "30 seconds"}],
    }

    violations = store.validate(certificate)

    assert _paths(violations) == ["spec.renewal.windows[0].windowDuration"]
    assert violations[0].message.startswith('invalid value "30 seconds": must match the regular expression')


def test_certificate_bad_key_algorithm(store: SchemaStore) -> None:
    certificate = _parse(CERTIFICATE)
    certificate["spec"]["privateKey"] = {"algorithm": "DSA"}

    violations = store.validate(certificate)

    assert violations == [
        SchemaViolation(
            "spec.privateKey.algorithm", 'unsupported value "DSA"; supported values: "RSA", "ECDSA", "Ed25519"'
        )
    ]


def test_clusterissuer_valid_passes(store: SchemaStore) -> None:
    assert store.validate(_parse(CLUSTER_ISSUER)) == []


def test_wasmplugin_valid_passes(store: SchemaStore) -> None:
    assert store.validate(_parse(WASM_PLUGIN)) == []


def test_wasmplugin_duplicate_env_names(store: SchemaStore) -> None:
    plugin = _parse(WASM_PLUGIN)
    env = plugin["spec"]["vmConfig"]["env"]
    env.append(copy.deepcopy(env[0]))

    violations = store.validate(plugin)

    assert violations == [
        SchemaViolation(
            "spec.vmConfig.env[2]", 'duplicate entry for key name="LOG_LEVEL"; the first one is at index 0'
        )
    ]


# PrometheusRule in Prometheus Operator v0.85.0 checks partial_response_strategy with
# the pattern "^(?i)(abort|warn)?$", which is valid RE2 but needs rewriting for
# Python's re. No CRD pinned in tools/schemas.yaml has an inline flag, so this
# CRD carries the same pattern.
INLINE_FLAG_CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: rules.example.com}
spec:
  group: example.com
  names: {kind: Rule, plural: rules}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              strategy: {type: string, pattern: "^(?i)(abort|warn)?$"}
"""


@pytest.mark.parametrize("strategy", ["abort", "WARN", "Abort", ""])
def test_go_inline_flag_accepts(tmp_path: Path, openapi_dir: Path, strategy: str) -> None:
    crd_file = tmp_path / "rules.yaml"
    crd_file.write_text(INLINE_FLAG_CRD)
    store = SchemaStore.load(openapi_dir, [crd_file])
    rule = {"apiVersion": "example.com/v1", "kind": "Rule", "metadata": {"name": "r"}, "spec": {"strategy": strategy}}

    assert store.validate(rule) == []


@pytest.mark.parametrize("strategy", ["retry", "warning", "abort\n"])
def test_go_inline_flag_rejects(tmp_path: Path, openapi_dir: Path, strategy: str) -> None:
    crd_file = tmp_path / "rules.yaml"
    crd_file.write_text(INLINE_FLAG_CRD)
    store = SchemaStore.load(openapi_dir, [crd_file])
    rule = {"apiVersion": "example.com/v1", "kind": "Rule", "metadata": {"name": "r"}, "spec": {"strategy": strategy}}

    violations = store.validate(rule)

    assert _paths(violations) == ["spec.strategy"]


def test_crd_default_satisfies_required(store: SchemaStore) -> None:
    # The Password generator requires allowRepeat, length and noUpper, and the CRD
    # gives each a default that the API server applies before validation.
    password = _parse("""
        apiVersion: generators.external-secrets.io/v1alpha1
        kind: Password
        metadata: {name: db-password}
        spec: {symbols: 0}
    """)
    assert store.validate(password) == []


def test_unknown_kind_single_violation(store: SchemaStore) -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}

    violations = store.validate(widget)

    assert violations == [
        SchemaViolation("", 'no schema is known for apiVersion "example.com/v1" and kind "Widget"')
    ]


def test_removed_version_unknown(store: SchemaStore) -> None:
    deployment = _parse(DEPLOYMENT)
    deployment["apiVersion"] = "extensions/v1beta1"

    assert not store.knows("extensions/v1beta1", "Deployment")
    assert _paths(store.validate(deployment)) == [""]


def test_knows_builtin_and_crd(store: SchemaStore) -> None:
    assert store.knows("apps/v1", "Deployment")
    assert store.knows("v1", "Service")
    assert store.knows("networking.k8s.io/v1", "Ingress")
    assert store.knows("networking.istio.io/v1", "VirtualService")
    assert store.knows("cert-manager.io/v1", "Certificate")
    assert not store.knows("apps/v1", "Service")
    assert not store.knows("v1", "DeleteOptions")
    assert not store.knows("not a version", "Deployment")


def test_served_and_deprecated_versions(store: SchemaStore) -> None:
    assert store.is_served("external-secrets.io/v1", "ExternalSecret")
    assert store.is_deprecated("external-secrets.io/v1", "ExternalSecret") is None
    assert not store.is_served("external-secrets.io/v1beta1", "ExternalSecret")
    assert store.is_deprecated("external-secrets.io/v1beta1", "ExternalSecret") == (
        "external-secrets.io/v1beta1 ExternalSecret is deprecated; use external-secrets.io/v1 ExternalSecret"
    )
    assert store.is_served("apps/v1", "Deployment")
    assert store.is_deprecated("apps/v1", "Deployment") is None


def test_scope_of_crd_kinds(store: SchemaStore) -> None:
    assert store.scope("cert-manager.io/v1", "Issuer") == "Namespaced"
    assert store.scope("cert-manager.io/v1", "ClusterIssuer") == "Cluster"
    assert store.scope("external-secrets.io/v1", "ExternalSecret") == "Namespaced"
    assert store.scope("external-secrets.io/v1", "ClusterSecretStore") == "Cluster"


def test_scope_of_builtin_kinds(store: SchemaStore) -> None:
    assert store.scope("apps/v1", "Deployment") == "Namespaced"
    assert store.scope("v1", "Namespace") == "Cluster"
    assert store.scope("v1", "Service") == "Namespaced"
    assert store.scope("v1", "PersistentVolume") == "Cluster"
    assert store.scope("rbac.authorization.k8s.io/v1", "Role") == "Namespaced"
    assert store.scope("rbac.authorization.k8s.io/v1", "ClusterRole") == "Cluster"


def test_scope_unknown_is_none(store: SchemaStore) -> None:
    assert store.scope("example.com/v1", "Widget") is None
    assert store.scope("extensions/v1beta1", "Deployment") is None
    assert store.scope("cert-manager.io/v1alpha2", "ClusterIssuer") is None
    assert store.scope("v1", "DeleteOptions") is None
    assert store.scope("not a version", "Deployment") is None


def test_scope_from_crd_file(tmp_path: Path, openapi_dir: Path) -> None:
    crd_file = tmp_path / "widgets.yaml"
    crd_file.write_text("""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Cluster
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  names: {kind: Gadget, plural: gadgets}
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}
""")

    store = SchemaStore.load(openapi_dir, [crd_file])

    assert store.scope("example.com/v1", "Widget") == "Cluster"
    # spec.scope is required, so a CRD without it has an unknown scope.
    assert store.knows("example.com/v1", "Gadget")
    assert store.scope("example.com/v1", "Gadget") is None


def test_violations_in_document_order(store: SchemaStore) -> None:
    deployment = _parse(DEPLOYMENT)
    deployment["metadata"]["labels"]["tier"] = "-front"
    deployment["spec"]["replicas"] = "3"
    _container(deployment)["imag"] = "nginx"

    violations = store.validate(deployment)

    assert _paths(violations) == [
        "metadata.labels.tier",
        "spec.replicas",
        "spec.template.spec.containers[0].imag",
    ]


def test_crd_file_with_template_raises(tmp_path: Path, openapi_dir: Path) -> None:
    crd_file = tmp_path / "widgets.yaml"
    crd_file.write_text(
        "{{- if .Values.crds.enabled }}\n"
        "apiVersion: apiextensions.k8s.io/v1\n"
        "kind: CustomResourceDefinition\n"
        "{{- end }}\n"
    )

    with pytest.raises(SchemaLoadError) as error:
        SchemaStore.load(openapi_dir, [crd_file])

    assert str(crd_file) in str(error.value)


def test_crd_file_missing_raises(tmp_path: Path, openapi_dir: Path) -> None:
    crd_file = tmp_path / "absent.yaml"

    with pytest.raises(SchemaLoadError) as error:
        SchemaStore.load(openapi_dir, [crd_file])

    assert str(crd_file) in str(error.value)


def test_crd_file_skips_other_documents(tmp_path: Path, openapi_dir: Path) -> None:
    crd_file = tmp_path / "mixed.yaml"
    crd_file.write_text("""---
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, minimum: 1}
""")
    store = SchemaStore.load(openapi_dir, [crd_file])
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}}

    assert store.validate(widget) == []
    widget["spec"]["size"] = 0
    assert store.validate(widget) == [
        SchemaViolation("spec.size", "invalid value 0: must be greater than or equal to 1")
    ]


SMALL_BUILTIN_OBJECTS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {LOG_LEVEL: info}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - host: web.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: web}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{ports: [{port: 8080, protocol: TCP}]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: "web:reader"}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get, list]}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cleanup}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: cleanup, image: busybox, args: [sh, -c, "echo done"]}]
"""


def test_small_builtins_valid_pass(store: SchemaStore) -> None:
    for obj in yaml.safe_load_all(SMALL_BUILTIN_OBJECTS):
        assert store.validate(obj) == [], obj["kind"]


def test_fresh_store_validates_all(schema_files: tuple[Path, list[Path]]) -> None:
    # A store that has read no schema yet, validating 15 kinds four times over.
    custom = [DEPLOYMENT, SERVICE, VIRTUAL_SERVICE, CERTIFICATE, EXTERNAL_SECRET, CLUSTER_ISSUER, WASM_PLUGIN]
    objects = [_parse(text) for text in custom] + list(yaml.safe_load_all(SMALL_BUILTIN_OBJECTS))

    store = SchemaStore.load(*schema_files)
    results = [store.validate(obj) for obj in objects * 4]

    assert len(results) == 60
    for obj, result in zip(objects * 4, results):
        assert result == [], obj["kind"]


def test_deep_template_raises_on_use(tmp_path: Path, openapi_dir: Path) -> None:
    # The scan at load time stops above the schema, so a template marker deep
    # inside it is found when the kind is first validated.
    crd_file = tmp_path / "widgets.yaml"
    crd_file.write_text("""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {{ .Values.widgetSchema }}
""")
    store = SchemaStore.load(openapi_dir, [crd_file])
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}

    assert store.knows("example.com/v1", "Widget")
    with pytest.raises(SchemaLoadError) as error:
        store.validate(widget)
    assert str(crd_file) in str(error.value)


def test_secret_data_needs_base64(store: SchemaStore) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "data": {"password": "hunter2!"}}

    violations = store.validate(secret)

    assert _paths(violations) == ["data.password"]
    assert violations[0].message == 'invalid value "hunter2!": must be base64-encoded'


def test_secret_base64_data_accepted(store: SchemaStore) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "data": {"password": "aHVudGVyMiE="}}
    assert store.validate(secret) == []
