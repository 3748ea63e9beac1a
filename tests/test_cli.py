"""The reck8s CLI as a user runs it: a subprocess started from the repository root."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from reck8s.check import RULES
from reck8s.toolchain import Pins, cache_dir

REPO_ROOT = Path(__file__).resolve().parents[1]

BAD = "tests/fixtures/cli/bad.yaml"
INVALID = "tests/fixtures/cli/invalid.yaml"
FINDING_KEYS = {"rule", "severity", "object", "file", "message", "fix"}
OBJECT_KEYS = {"kind", "namespace", "name"}
CJK = re.compile(r"[\u4e00-\u9fff]")

# Rules that bad.yaml breaks on purpose, one fault each.
BAD_RULES = {
    "container-probes",
    "container-resources",
    "image-pinned",
    "pss-restricted",
    "ref-service-selector",
}


def run_reck8s(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m reck8s ARGS` from the repository root and capture its output.

    The `env` entries are added to the current environment.
    """
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "reck8s", *args],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        # A limit against a hung kustomize, not a measured run time.
        timeout=300,
    )


def parse_findings(stdout: str) -> list[dict]:
    """Return the findings of `check --format json`: one flat array of finding objects."""
    findings = json.loads(stdout)
    assert isinstance(findings, list)
    return findings


def assert_usage_error(result: subprocess.CompletedProcess[str]) -> None:
    """Check the shape of every bad-input error: exit 2, nothing on stdout, one reck8s message on stderr."""
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("reck8s: ")
    assert "Traceback" not in result.stderr


def write_kustomization(folder: Path, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" + body
    )


# check: environments, files and JSON output


def test_check_environments_pass(pinned_tools: Pins) -> None:
    result = run_reck8s("check")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "dev: 0 errors" in result.stdout
    assert "prod: 0 errors" in result.stdout


def test_json_findings_have_exact_keys(pinned_tools: Pins) -> None:
    result = run_reck8s("check", "--format", "json", BAD)

    assert result.returncode == 1, result.stderr
    findings = parse_findings(result.stdout)
    assert findings, "bad.yaml gave no findings"
    for finding in findings:
        assert set(finding) == FINDING_KEYS, finding
        assert set(finding["object"]) == OBJECT_KEYS, finding


def test_bad_fixture_exits_one(pinned_tools: Pins) -> None:
    result = run_reck8s("check", "--format", "json", BAD)

    assert result.returncode == 1, result.stderr
    findings = parse_findings(result.stdout)
    assert BAD_RULES <= {f["rule"] for f in findings}
    assert {f["file"] for f in findings} == {BAD}


def test_bad_fixture_table_names_file(pinned_tools: Pins) -> None:
    result = run_reck8s("check", BAD)

    assert result.returncode == 1, result.stderr
    assert f"{BAD}: " in result.stdout
    assert f"file: {BAD}" in result.stdout


# Bad input: exit code 2 and one message that names the input and the fix


def test_unknown_environment_lists_known(pinned_tools: Pins) -> None:
    result = run_reck8s("check", "staging")

    assert_usage_error(result)
    assert "unknown environment 'staging'" in result.stderr
    assert "Known environments: dev, prod." in result.stderr


def test_invalid_yaml_names_file(pinned_tools: Pins) -> None:
    result = run_reck8s("check", INVALID)

    assert_usage_error(result)
    assert f"{INVALID} is not valid YAML" in result.stderr


def test_kustomize_error_names_folder(pinned_tools: Pins, tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    write_kustomization(folder, "resources:\n  - missing.yaml\n")

    result = run_reck8s("check", str(folder))

    assert_usage_error(result)
    assert f"kustomize build failed for {folder}" in result.stderr
    assert "missing.yaml" in result.stderr


def test_render_without_kustomize_names_setup(tmp_path: Path) -> None:
    result = run_reck8s("render", "dev", env={"RECK8S_CACHE": str(tmp_path)})

    assert_usage_error(result)
    assert "kustomize" in result.stderr
    assert "Run `make setup`" in result.stderr


def test_check_without_cache_names_setup(tmp_path: Path) -> None:
    result = run_reck8s("check", "dev", env={"RECK8S_CACHE": str(tmp_path)})

    assert_usage_error(result)
    assert "Run `make setup`" in result.stderr


def test_check_without_kustomize_names_setup(pinned_tools: Pins, tmp_path: Path) -> None:
    # The schemas are present, so the missing kustomize is the first thing check meets.
    (tmp_path / "schemas").symlink_to(cache_dir() / "schemas", target_is_directory=True)

    result = run_reck8s("check", "dev", env={"RECK8S_CACHE": str(tmp_path)})

    assert_usage_error(result)
    assert f"kustomize {pinned_tools.kustomize_version} is not installed" in result.stderr
    assert "Run `make setup`" in result.stderr


def test_render_unknown_environment(pinned_tools: Pins) -> None:
    result = run_reck8s("render", "nosuch")

    assert_usage_error(result)
    assert "unknown environment 'nosuch'" in result.stderr
    assert "Known environments: dev, prod." in result.stderr


# render


def test_render_dev_prints_yaml(pinned_tools: Pins) -> None:
    result = run_reck8s("render", "dev")

    assert result.returncode == 0, result.stderr
    documents = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert [d["metadata"]["name"] for d in documents if d["kind"] == "Namespace"] == ["recommend-dev"]
    assert "config.kubernetes.io/origin" not in result.stdout


# Locale


def test_chinese_locale_message(pinned_tools: Pins) -> None:
    result = run_reck8s("check", "staging", env={"LANG": "zh_CN.UTF-8"})

    assert_usage_error(result)
    assert CJK.search(result.stderr), result.stderr


def test_english_locale_message(pinned_tools: Pins) -> None:
    result = run_reck8s("check", "staging", env={"LANG": "C.UTF-8"})

    assert_usage_error(result)
    assert CJK.search(result.stderr) is None, result.stderr
    assert "unknown environment" in result.stderr


# Source files of objects in a kustomization


DEPLOYMENT_WITHOUT_PROBES = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: web
          image: registry.example.com/web:1.0.0
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              memory: 128Mi
          securityContext:
            allowPrivilegeEscalation: false
            capabilities:
              drop: [ALL]
"""


def test_kustomization_finding_names_base_file(pinned_tools: Pins, tmp_path: Path) -> None:
    base = tmp_path / "base"
    overlay = tmp_path / "overlays" / "staging"
    write_kustomization(base, "resources:\n  - deployment.yaml\n")
    (base / "deployment.yaml").write_text(DEPLOYMENT_WITHOUT_PROBES)
    write_kustomization(overlay, "namespace: web-staging\nresources:\n  - ../../base\n")

    result = run_reck8s("check", "--format", "json", str(overlay))

    assert result.returncode == 1, result.stderr
    findings = [f for f in parse_findings(result.stdout) if f["rule"] == "container-probes"]
    assert len(findings) == 1, findings
    assert findings[0]["object"] == {"kind": "Deployment", "namespace": "web-staging", "name": "web"}
    assert findings[0]["file"] == str((base / "deployment.yaml").resolve())


def test_json_order_is_stable(pinned_tools: Pins) -> None:
    first = run_reck8s("check", "--format", "json", BAD).stdout
    second = run_reck8s("check", "--format", "json", BAD).stdout

    assert first == second


def test_sarif_lists_rules_and_results(pinned_tools: Pins) -> None:
    result = run_reck8s("check", "--format", "sarif", BAD)

    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert document["version"] == "2.1.0"
    run = document["runs"][0]
    rule_ids = {rule["id"] for rule in run["tool"]["driver"]["rules"]}
    assert set(RULES) | {"silence-without-reason"} == rule_ids
    json_findings = parse_findings(run_reck8s("check", "--format", "json", BAD).stdout)
    assert len(run["results"]) == len(json_findings)
    for result_ in run["results"]:
        assert result_["ruleId"] in rule_ids
        assert result_["level"] in ("error", "warning", "note")
        location = result_["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == BAD
        assert location["region"]["startLine"] >= 1


def test_ignore_annotation_silences_rule(pinned_tools: Pins, tmp_path: Path) -> None:
    text = Path(BAD).read_text()
    before = parse_findings(run_reck8s("check", "--format", "json", BAD).stdout)
    target = before[0]
    silenced = tmp_path / "silenced.yaml"
    silenced.write_text(_annotate(text, target["object"]["kind"], target["object"]["name"],
                                  f"ignore.reck8s.dev/{target['rule']}", "reviewed: accepted for this fixture"))

    after = parse_findings(run_reck8s("check", "--format", "json", str(silenced)).stdout)

    remaining = [(f["rule"], f["object"]["name"]) for f in after]
    assert (target["rule"], target["object"]["name"]) not in remaining
    assert len(after) == len(before) - 1
    table = run_reck8s("check", str(silenced)).stdout
    assert "1 finding silenced by ignore.reck8s.dev annotations" in table


def test_ignore_without_reason_reported(pinned_tools: Pins, tmp_path: Path) -> None:
    text = Path(BAD).read_text()
    target = parse_findings(run_reck8s("check", "--format", "json", BAD).stdout)[0]
    silenced = tmp_path / "silenced.yaml"
    silenced.write_text(_annotate(text, target["object"]["kind"], target["object"]["name"],
                                  f"ignore.reck8s.dev/{target['rule']}", ""))

    after = parse_findings(run_reck8s("check", "--format", "json", str(silenced)).stdout)

    rules = [f["rule"] for f in after if f["object"]["name"] == target["object"]["name"]]
    assert target["rule"] in rules
    assert "silence-without-reason" in rules


def _annotate(text: str, kind: str, name: str, key: str, value: str) -> str:
    """Add one annotation to the object of that kind and name in a multi-document YAML text."""
    documents = list(yaml.safe_load_all(text))
    for document in documents:
        if document and document["kind"] == kind and document["metadata"]["name"] == name:
            document["metadata"].setdefault("annotations", {})[key] = value
    return yaml.safe_dump_all(documents, sort_keys=False)
