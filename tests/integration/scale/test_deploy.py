"""deploy/: the Kubernetes manifests build with kustomize and pass the official schemas
(``kubernetes-validate``, offline); the compose file and the Dockerfile hold what the
deployment guide promises. Docker cannot run here, so those two are read, not run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
K8S_VERSION = "1.30.0"  # the oldest Kubernetes release the manifests promise to work on
Doc = dict[str, Any]


def kustomize(folder: Path) -> list[Doc]:
    """``kubectl kustomize`` (kustomize is built into kubectl); the rendered documents."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        message = "kubectl (with its built-in kustomize) is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    done = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> list[Doc]:
    """The production overlay, built with the example secrets (as an operator would)."""
    copy = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(DEPLOY / "k8s", copy)
    overlay = copy / "overlays" / "production"
    shutil.copy(overlay / "secrets.env.example", overlay / "secrets.env")
    return kustomize(overlay)


def one(docs: list[Doc], kind: str) -> Doc:
    found = [doc for doc in docs if doc["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind}s"
    return found[0]


def container(docs: list[Doc]) -> Doc:
    deployment = one(docs, "Deployment")
    containers: list[Doc] = deployment["spec"]["template"]["spec"]["containers"]
    return containers[0]


@pytest.mark.parametrize("folder", ["base", "overlays/production"])
def test_every_manifest_passes_the_kubernetes_schemas(folder: str, tmp_path: Path) -> None:
    shutil.copytree(DEPLOY / "k8s", tmp_path / "k8s")
    overlay = tmp_path / "k8s" / "overlays" / "production"
    shutil.copy(overlay / "secrets.env.example", overlay / "secrets.env")
    docs = kustomize(tmp_path / "k8s" / folder)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_schema_check_catches_a_broken_manifest(production: list[Doc]) -> None:
    deployment = yaml.safe_load(yaml.safe_dump(one(production, "Deployment")))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSecond"] = 5
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


@pytest.mark.parametrize(
    ("probe", "path"),
    [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"), ("startupProbe", "/healthz")],
)
def test_the_probes_ask_the_routes_made_for_them(
    production: list[Doc], probe: str, path: str
) -> None:
    assert container(production)[probe]["httpGet"]["path"] == path


def test_pods_run_as_the_images_non_root_user_on_a_read_only_root(
    production: list[Doc],
) -> None:
    pod = one(production, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert container(production)["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["automountServiceAccountToken"] is False


def test_shutdown_leaves_time_to_drain(production: list[Doc]) -> None:
    pod = one(production, "Deployment")["spec"]["template"]["spec"]
    pre_stop = container(production)["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > int(pre_stop[1]) + 30


def test_the_service_and_the_budget_select_the_deployments_pods(production: list[Doc]) -> None:
    labels = one(production, "Deployment")["spec"]["template"]["metadata"]["labels"]
    for kind, selector in [
        ("Service", one(production, "Service")["spec"]["selector"]),
        ("PodDisruptionBudget", one(production, "PodDisruptionBudget")["spec"]["selector"]),
    ]:
        wanted = selector.get("matchLabels", selector)
        assert wanted.items() <= labels.items(), kind


def test_the_autoscaler_scales_the_deployment_from_three_replicas(production: list[Doc]) -> None:
    hpa = one(production, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"]["name"] == one(production, "Deployment")["metadata"]["name"]
    assert 3 <= hpa["minReplicas"] < hpa["maxReplicas"]


def test_the_ingress_serves_the_overlays_host_over_tls(production: list[Doc]) -> None:
    ingress = one(production, "Ingress")["spec"]
    host = ingress["rules"][0]["host"]
    assert host == "facewatch.example.org"
    assert ingress["tls"][0]["hosts"] == [host]
    backend = ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == one(production, "Service")["metadata"]["name"]


def test_settings_come_from_the_configmap_and_the_generated_secret(
    production: list[Doc],
) -> None:
    sources = container(production)["envFrom"]
    names = {next(iter(s.values()))["name"] for s in sources}
    made = {doc["metadata"]["name"] for doc in production if doc["kind"] in ("ConfigMap", "Secret")}
    assert names == made
    secret = one(production, "Secret")
    assert "FACEWATCH_DATABASE_URL" in secret["data"]
    config = one(production, "ConfigMap")["data"]
    assert config["FACEWATCH_BLOB_URL"].startswith("s3://")


def test_every_setting_in_the_manifests_exists(production: list[Doc]) -> None:
    from facewatch.config import Settings

    config = one(production, "ConfigMap")["data"]
    secret = one(production, "Secret")["data"]
    fields = {f"FACEWATCH_{name.upper()}" for name in Settings.model_fields}
    assert set(config) | set(secret) <= fields


def test_postgresql_is_external_not_deployed(production: list[Doc]) -> None:
    kinds = {doc["kind"] for doc in production}
    assert "StatefulSet" not in kinds
    assert "PersistentVolumeClaim" not in kinds


# --- compose and Dockerfile ------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> Doc:
    loaded: Doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def test_compose_runs_the_server_postgresql_mosquitto_and_one_edge_agent(compose: Doc) -> None:
    assert set(compose["services"]) == {"server", "postgres", "mosquitto", "edge"}
    server = compose["services"]["server"]
    assert server["environment"]["FACEWATCH_DATABASE_URL"].startswith("postgresql://")
    assert server["environment"]["FACEWATCH_MQTT_URL"] == "mqtt://mosquitto:1883"
    assert compose["services"]["edge"]["command"][:2] == ["edge", "run"]


def test_compose_mounts_files_that_exist(compose: Doc) -> None:
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).is_file(), source


def test_every_variable_compose_needs_is_in_the_example_env_file(compose: Doc) -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    needed = set(re.findall(r"\$\{(\w+)", text))
    example = (DEPLOY / "compose" / "env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^(\w+)=", example, flags=re.MULTILINE))
    assert needed - {"FACEWATCH_IMAGE"} <= documented


def test_the_dockerfile_builds_in_stages_and_runs_as_a_non_root_user() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM .+ AS (\w+)$", text, flags=re.MULTILINE)
    assert stages == ["build", "runtime"]
    runtime_stage = text.split("AS runtime", 1)[1]
    assert re.search(r"^USER 10001:10001$", runtime_stage, flags=re.MULTILINE)
    assert "COPY --from=build /opt/facewatch /opt/facewatch" in runtime_stage
    # The models are converted and loaded once at build time, from packages only.
    assert "facewatch models convert" in text
    assert ".warm_up()" in text


def test_the_dockerfile_copies_only_what_exists() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    root = DEPLOY.parent
    for line in re.findall(r"^COPY (?!--from)(.+)$", text, flags=re.MULTILINE):
        *sources, _ = line.split()
        assert all((root / source).exists() for source in sources), line
