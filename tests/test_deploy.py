"""What an operator deploys: the Kubernetes manifests and the compose file in deploy/, checked against the
Kubernetes API schemas and against the code they run (image, commands, settings, health paths), and the
release step they rely on (migrations started by several processes at once)."""

from __future__ import annotations

import argparse
import asyncio
import copy
import re
import subprocess
import sys
import tomllib
from typing import Any

import asyncpg
import kubernetes_validate
import pytest
import yaml

from linli.settings import Settings
from server.cli import build_parser
from tests.conftest import _SERVICES, process_env
from tests.harness import ROOT, unique_name


def _migrate(dsn: str, n: int) -> list[subprocess.CompletedProcess[str]]:
    env = process_env() | {"DATABASE_URL": dsn}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "server.cli", "migrate"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


async def test_replicas_and_the_release_job_migrating_at_once_all_succeed():
    # A rolling update starts API replicas (each migrates as it starts) while the release's migration job runs.
    name = unique_name("linli_deploy")
    admin = await asyncpg.connect(_SERVICES.admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = _SERVICES.dsn_for(name)
        results = await asyncio.to_thread(_migrate, dsn, 3)
        for r in results:
            assert r.returncode == 0, r.stderr[-2000:]
            assert "migrations applied" in r.stdout
        conn = await asyncpg.connect(dsn)
        try:
            applied = await conn.fetchval("SELECT count(*) FROM migration")
            distinct = await conn.fetchval("SELECT count(DISTINCT (app_name, name)) FROM migration")
        finally:
            await conn.close()
        assert applied == distinct > 0  # each migration recorded once
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# --- the manifests ------------------------------------------------------------------------------------------

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
# What the managed Kubernetes services offer now (Alibaba Cloud ACK, Tencent TKE) up to the newest schemas known.
KUBERNETES_VERSIONS = ("1.28.0", "1.30.0", kubernetes_validate.latest_version())
IMAGE = "linli"  # every pod's image; kustomization.yaml points it at the registry and release
EXTRA_ENV = {"FORWARDED_ALLOW_IPS"}  # read by uvicorn itself, not by linli.settings


def manifests() -> list[tuple[str, dict[str, Any]]]:
    """(file name, object) of every Kubernetes object in deploy/k8s (kustomization.yaml is kustomize's own)."""
    out: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        out.extend((path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc)
    return out


def objects(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in manifests() if doc["kind"] == kind}


def pod_specs() -> dict[str, dict[str, Any]]:
    """The pod template of every Deployment and Job, by the object's name."""
    return {
        doc["metadata"]["name"]: doc["spec"]["template"]
        for _, doc in manifests()
        if doc["kind"] in ("Deployment", "Job")
    }


def setting_names() -> set[str]:
    return {field.alias or name for name, field in Settings.model_fields.items()}


def route_paths() -> set[str]:
    from server.app import create_app

    return {route.path for route in create_app().routes}


def linli_args(command: list[str]) -> argparse.Namespace:
    """A container's command as `linli` parses it: a wrong subcommand or flag fails here, not in the cluster."""
    assert command[0] == "linli", command
    return build_parser().parse_args(command[1:])


def test_every_manifest_is_valid_for_the_kubernetes_api():
    found = manifests()
    assert {doc["kind"] for _, doc in found} >= {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Job",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
    }
    for name, doc in found:
        for version in KUBERNETES_VERSIONS:
            # Strict: an unknown or misspelt field (`replica:`) is an error, as kubectl's server-side validation.
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                raise AssertionError(f"{name} ({doc['kind']}) for Kubernetes {version}: {exc.message}") from exc


def test_a_misspelt_field_is_caught_by_the_schema_check():
    deployment = copy.deepcopy(objects("Deployment")["linli-api"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/health/ready"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.30.0", strict=True)


def test_the_kustomization_applies_every_manifest_with_one_image():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert [image["name"] for image in kustomization["images"]] == [IMAGE]
    for name, template in pod_specs().items():
        for container in template["spec"]["containers"]:
            assert container["image"] == IMAGE, name


def test_each_pod_runs_its_linli_command():
    specs = pod_specs()
    api = specs["linli-api"]["spec"]["containers"][0]
    serve = linli_args(api["command"])
    assert serve.command == "serve" and serve.host == "0.0.0.0"
    assert [p["containerPort"] for p in api["ports"] if p["name"] == "http"] == [serve.port]
    worker = specs["linli-worker"]["spec"]["containers"][0]
    assert linli_args(worker["command"]).command == "worker"
    assert linli_args(specs["linli-migrate"]["spec"]["containers"][0]["command"]).command == "migrate"
    assert specs["linli-migrate"]["spec"]["restartPolicy"] == "Never"
    # The worker stops in up to 25 s (actors 10 s, then relay and scheduler 15 s: workers.runtime).
    assert specs["linli-worker"]["spec"]["terminationGracePeriodSeconds"] >= 30


def test_configuration_names_only_settings_linli_reads():
    known = setting_names() | EXTRA_ENV
    config = objects("ConfigMap")["linli-config"]["data"]
    secret = objects("Secret")["linli-secrets"]["stringData"]
    assert set(config) <= known, set(config) - known
    assert set(secret) <= known, set(secret) - known
    assert not set(config) & set(secret)  # one place for each setting
    assert {"DATABASE_URL", "REDIS_URL", "LINLI_SECRET_KEY", "LINLI_METRICS_TOKEN"} <= set(secret)
    # Placeholders an operator cannot mistake for values to keep.
    for key in ("DATABASE_URL", "REDIS_URL", "LINLI_SECRET_KEY", "LINLI_METRICS_TOKEN"):
        assert "CHANGE-ME" in secret[key], key
    Settings.model_validate(config | secret)  # every value parses as its setting
    for name, template in pod_specs().items():
        for container in template["spec"]["containers"]:
            refs = {(k, v["name"]) for ref in container["envFrom"] for k, v in ref.items()}
            assert refs == {("configMapRef", "linli-config"), ("secretRef", "linli-secrets")}, name
            assert {e["name"] for e in container.get("env", [])} <= known


def test_probes_ask_the_apps_own_health_routes():
    routes = route_paths()
    api = pod_specs()["linli-api"]["spec"]["containers"][0]
    ports = {p["name"] for p in api["ports"]}
    probes = {kind: api[kind]["httpGet"] for kind in ("readinessProbe", "livenessProbe", "startupProbe")}
    assert probes["readinessProbe"]["path"] == "/health/ready"  # checks PostgreSQL and Redis
    assert probes["livenessProbe"]["path"] == "/health/live"  # the process only
    for probe in probes.values():
        assert probe["path"] in routes
        assert probe["port"] in ports
    worker = pod_specs()["linli-worker"]
    container = worker["spec"]["containers"][0]
    config = objects("ConfigMap")["linli-config"]["data"]
    metrics_port = int(config["dramatiq_prom_port"])
    assert config["dramatiq_prom_host"] == "0.0.0.0"  # the default (loopback) is not reachable by a probe
    probed = container["livenessProbe"]["httpGet"]["port"]
    assert [p["containerPort"] for p in container["ports"] if p["name"] == probed] == [metrics_port]
    assert worker["metadata"]["annotations"]["prometheus.io/port"] == str(metrics_port)


def test_the_service_autoscaler_and_budget_point_at_the_api_pods():
    deployment = objects("Deployment")["linli-api"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = objects("Service")["linli-api"]
    assert service["spec"]["selector"].items() <= labels.items()
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= {p["name"] for p in container["ports"]}
    hpa = objects("HorizontalPodAutoscaler")["linli-api"]
    assert (hpa["spec"]["scaleTargetRef"]["kind"], hpa["spec"]["scaleTargetRef"]["name"]) == ("Deployment", "linli-api")
    assert hpa["spec"]["minReplicas"] >= 2
    assert "cpu" in container["resources"]["requests"]  # CPU utilisation is a share of the request
    pdb = objects("PodDisruptionBudget")["linli-api"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_pods_write_only_where_a_volume_is_mounted():
    config = objects("ConfigMap")["linli-config"]["data"]
    for name, template in pod_specs().items():
        volumes = {v["name"] for v in template["spec"]["volumes"]}
        assert template["spec"]["securityContext"]["runAsNonRoot"] is True
        for container in template["spec"]["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert config["LINLI_DATA_DIR"] in mounts, name  # metrics files of each process
            assert "/tmp" in mounts, name
            assert set(mounts.values()) <= volumes


# --- the image and compose ----------------------------------------------------------------------------------


def test_the_image_holds_every_package_and_runs_as_the_manifests_user():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, re.MULTILINE))
    assert packages <= copied, packages - copied
    assert re.search(r"useradd .*--uid 10001", dockerfile)
    for template in pod_specs().values():
        assert template["spec"]["securityContext"]["runAsUser"] == 10001
    assert "EXPOSE 8000" in dockerfile


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # YAML merge keys (<<) resolved


def upstream_servers() -> tuple[str, list[str]]:
    conf = (DEPLOY / "nginx.conf").read_text()
    match = re.search(r"upstream (\w+) \{(.*?)\}", conf, re.DOTALL)
    assert match is not None
    return match.group(1), re.findall(r"^\s*server\s+([\w.-]+:\d+)", match.group(2), re.MULTILINE)


def test_compose_runs_two_api_replicas_behind_the_proxy_and_two_workers():
    services = compose()["services"]
    apis = {name: s for name, s in services.items() if s.get("command", [])[:2] == ["linli", "serve"]}
    workers = {name: s for name, s in services.items() if s.get("command", [])[:2] == ["linli", "worker"]}
    assert len(apis) == 2 and len(workers) == 2

    # The proxy's upstream is exactly the API replicas, at the port each serves on.
    upstream, servers = upstream_servers()
    assert sorted(servers) == sorted(f"{name}:{linli_args(s['command']).port}" for name, s in apis.items())
    assert f"proxy_pass http://{upstream};" in (DEPLOY / "nginx.conf").read_text()
    proxy = services["proxy"]
    assert proxy["image"].startswith("nginx:")
    assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in proxy["volumes"]
    assert proxy["ports"] == ["8000:80"]
    assert {name: dep["condition"] for name, dep in proxy["depends_on"].items()} == dict.fromkeys(
        apis, "service_healthy"
    )

    routes = route_paths()
    for name, api in apis.items():
        assert "ports" not in api, f"{name} must be reached through the proxy only"
        assert linli_args(api["command"]).host == "0.0.0.0"
        [url] = re.findall(r"http://127\.0\.0\.1:8000(/[\w/]+)", " ".join(api["healthcheck"]["test"]))
        assert url in routes
    for worker in workers.values():
        assert linli_args(worker["command"]).command == "worker"
        assert worker["stop_signal"] == "SIGTERM"


def test_compose_services_share_one_image_migrated_first_with_known_settings():
    services = compose()["services"]
    linli = {name: s for name, s in services.items() if s.get("command", [""])[0] == "linli"}
    assert {name for name, s in linli.items() if linli_args(s["command"]).command == "migrate"} == {"migrate"}
    assert len({(s["image"], s["build"]["dockerfile"]) for s in linli.values()}) == 1
    known = setting_names() | EXTRA_ENV
    for name, service in linli.items():
        assert set(service["environment"]) <= known, (name, set(service["environment"]) - known)
        if name != "migrate":
            assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    # PostgreSQL and Redis of compose are the ones the services are pointed at.
    env = services["api-1"]["environment"]
    assert "@postgres:5432/" in env["DATABASE_URL"] and "//redis:6379/" in env["REDIS_URL"]
