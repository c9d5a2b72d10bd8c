"""deploy/ is checked since no container engine or cluster runs here: every file parses, every
manifest has what its kind needs, the config it carries loads, and the guide names every variable."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.config import load_config
from bot.engine import load_rules
from bot.service import load_settings, parse_duration
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
GUIDE = ROOT / "docs" / "deploy.md"
YAML_FILES = sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))
SHUTDOWN = parse_duration(load_config(DEPLOY / "config" / "govbot.yaml").section("service")["shutdown_timeout"])


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def k8s_objects() -> list[tuple[str, dict]]:
    return [(path.name, doc) for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml"
            for doc in documents(path)]


def pod_spec(obj: dict) -> dict:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path):
    assert documents(path)


@pytest.mark.parametrize("name, obj", k8s_objects(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_kubernetes_objects_have_what_their_kind_needs(name, obj):
    assert obj["apiVersion"] and obj["kind"] and obj["metadata"]["name"].startswith("govbot")
    assert obj["metadata"]["labels"]["app.kubernetes.io/name"] == "govbot"
    if obj["kind"] in ("Deployment", "CronJob"):
        spec = pod_spec(obj)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["terminationGracePeriodSeconds"] >= SHUTDOWN.total_seconds()
        for container in spec["containers"]:
            assert re.match(r"^[\w.-]+(/[\w.-]+)+:\d+\.\d+\.\d+$", container["image"]), "pin the image version"
            assert set(container["resources"]) == {"requests", "limits"}
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["envFrom"] == [{"secretRef": {"name": "govbot-secrets"}}]
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert mounts["/etc/govbot"] == "config" and "/tmp" in mounts
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        sources = volumes["config"]["projected"]["sources"]
        assert [s["configMap"]["name"] for s in sources] == ["govbot-config", "govbot-rules"]
    if obj["kind"] == "Deployment":
        # Two replicas elect one scheduler (PostgreSQL store); a PodDisruptionBudget keeps one up.
        assert obj["spec"]["replicas"] == 2 and obj["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        budgets = [o for _, o in k8s_objects() if o["kind"] == "PodDisruptionBudget"]
        assert [b["spec"]["selector"]["matchLabels"] for b in budgets] == [obj["spec"]["selector"]["matchLabels"]]
        assert budgets[0]["spec"]["minAvailable"] == 1
        [container] = pod_spec(obj)["containers"]
        port = container["ports"][0]
        assert port["containerPort"] == 9464
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    if obj["kind"] == "CronJob":
        assert len(obj["spec"]["schedule"].split()) == 5 and obj["spec"]["concurrencyPolicy"] == "Forbid"
        [container] = pod_spec(obj)["containers"]
        assert container["args"][:2] == ["--once", obj["metadata"]["name"].removeprefix("govbot-")]
    if obj["kind"] == "Secret":
        for key, value in obj["stringData"].items():
            assert value == "REPLACE_ME", f"{key}: a template holds no real secret"
        assert {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "JIRA_API_TOKEN", "GOVBOT_DATABASE_URL"} <= set(obj["stringData"])


def test_cronjobs_cover_the_jobs_of_the_service():
    names = {obj["metadata"]["name"] for _, obj in k8s_objects() if obj["kind"] == "CronJob"}
    assert names == {"govbot-scan-and-nudge", "govbot-digest", "govbot-full-rescan"}


def test_kubernetes_objects_match_the_api_schemas():
    validate = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate").validate
    for name, obj in k8s_objects():
        validate(obj, "1.30", strict=True)


def test_kustomization_lists_existing_files():
    kustomization = documents(K8S / "kustomization.yaml")[0]
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file()


def test_the_configmap_carries_the_container_config_and_it_loads(tmp_path):
    maps = {obj["metadata"]["name"]: obj for _, obj in k8s_objects() if obj["kind"] == "ConfigMap"}
    config_text = maps["govbot-config"]["data"]["govbot.yaml"]
    assert config_text == (DEPLOY / "config" / "govbot.yaml").read_text()
    assert maps["govbot-rules"]["data"]["site-rules.yaml"] == (DEPLOY / "config" / "rules" / "site-rules.yaml").read_text()
    (tmp_path / "rules").mkdir()
    (tmp_path / "govbot.yaml").write_text(config_text)
    (tmp_path / "rules" / "site-rules.yaml").write_text(maps["govbot-rules"]["data"]["site-rules.yaml"])
    config = load_config(tmp_path / "govbot.yaml")
    settings = load_settings(config)
    assert settings.health_host == "0.0.0.0" and settings.health_port == 9464 and not settings.apply
    assert load_rules(None, config).active


def test_compose_runs_the_bot_with_postgres_16():
    compose = documents(DEPLOY / "docker-compose.yml")[0]
    bot, postgres = compose["services"]["govbot"], compose["services"]["postgres"]
    assert bot["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert bot["env_file"] == ".env" and "GOVBOT_DATABASE_URL" in bot["environment"]
    assert bot["environment"]["GOVBOT_DATABASE_URL"].startswith("postgresql+psycopg://govbot:")
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert parse_duration(bot["stop_grace_period"]) > SHUTDOWN
    assert "./config:/etc/govbot:ro" in bot["volumes"]
    assert re.match(r"^postgres:16(\.\d+)?$", postgres["image"])
    assert postgres["volumes"][0].split(":")[0] in compose["volumes"]
    example = (DEPLOY / ".env.example").read_text()
    for name in ("JIRA_API_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "POSTGRES_PASSWORD"):
        assert re.search(rf"^#? ?{name}=", example, re.MULTILINE), name


def test_dockerfile_is_pinned_slim_non_root_and_checks_health():
    lines = [line.strip() for line in (DEPLOY / "Dockerfile").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    bases = [line.split()[1] for line in lines if line.startswith("FROM ")]
    # Pinned by tag and by digest (a tag can be re-pushed, a digest cannot), the same in both stages.
    assert len(bases) == 2 and len(set(bases)) == 1
    assert re.match(r"^python:3\.11\.\d+-slim(-\w+)?@sha256:[0-9a-f]{64}$", bases[0]), bases[0]
    [user] = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert user.split(":")[0] not in ("root", "0")
    healthcheck = " ".join(line for line in lines if line.startswith(("HEALTHCHECK", "CMD [\"python\"")))
    assert "http://127.0.0.1:9464/healthz" in healthcheck
    assert 'ENTRYPOINT ["govbot", "serve"]' in lines
    copied = {line.split()[1] for line in lines if line.startswith("COPY ") and "--from" not in line}
    for source in copied:
        assert (ROOT / source).exists(), source


LOCK = DEPLOY / "requirements.lock"
REGENERATE = ("pip-compile --generate-hashes --allow-unsafe --all-build-deps --extra postgres --strip-extras "
              "--no-emit-index-url --output-file deploy/requirements.lock pyproject.toml")


def locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) from the lock file."""
    text = LOCK.read_text().replace("\\\n", " ")
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.match(r"^([A-Za-z0-9._-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})*)\s*$", line)
        assert match, f"not a pinned, hashed requirement: {line}"
        pins[canonical(match.group(1))] = (match.group(2), re.findall(r"sha256:([0-9a-f]{64})", match.group(3)))
    return pins


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project_requirements() -> list:
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    names = project["project"]["dependencies"] + project["project"]["optional-dependencies"]["postgres"] + build
    return [Requirement(text) for text in names]


def test_the_image_installs_only_what_the_lock_pins_with_hashes():
    lines = [line.strip() for line in (DEPLOY / "Dockerfile").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    installs = [line for line in lines if line.startswith("RUN ") and " install " in line]
    assert [line for line in installs if "pip install" in line] == installs
    locked_install, project_install = installs
    assert "--require-hashes" in locked_install and "-r requirements.lock" in locked_install
    assert "--only-binary :all:" in locked_install  # nothing built from source, so no unpinned build deps
    assert project_install.endswith(" .") and "--no-deps" in project_install and "--no-build-isolation" in project_install
    assert "COPY deploy/requirements.lock ./" in lines
    assert lines.index("COPY deploy/requirements.lock ./") < lines.index(locked_install)
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert "!deploy/requirements.lock" in ignore  # else the build context would not hold it


def test_the_lock_pins_every_runtime_and_build_dependency_within_pyproject():
    from packaging.version import Version

    pins = locked()
    assert all(hashes for _, hashes in pins.values())
    for requirement in project_requirements():
        name = canonical(requirement.name)
        assert name in pins, f"{requirement} is not in {LOCK.name}: regenerate it"
        assert requirement.specifier.contains(Version(pins[name][0]), prereleases=True), \
            f"{LOCK.name} pins {name}=={pins[name][0]}, outside {requirement}: regenerate it"
        for extra in requirement.extras:  # psycopg[binary] -> psycopg-binary
            assert f"{name}-{extra}" in pins, f"{name}[{extra}]"


def test_the_lock_is_closed_under_the_installed_dependencies():
    """Every package a locked one requires on Linux is locked too (read from installed metadata)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    pins = locked()
    missing = []
    for name in pins:
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue  # not installed in this test environment (setuptools' own extras, say)
        for text in requires:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                if canonical(requirement.name) not in pins:
                    missing.append(f"{name} needs {requirement}")
    assert not missing, missing


def test_the_regenerate_command_is_in_the_lock_readme_and_guide():
    assert REGENERATE in LOCK.read_text()
    for doc in (ROOT / "README.md", GUIDE):
        found = REGENERATE in " ".join(doc.read_text().replace("\\\n", " ").split())
        assert found, f"{doc.name} does not give the command that regenerates {LOCK.name}"


def unit_file() -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in (DEPLOY / "systemd" / "govbot.service").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


def test_systemd_unit_is_hardened():
    service = unit_file()["Service"]
    assert service["ExecStart"][0].endswith("govbot serve")
    assert service["DynamicUser"] == ["yes"] or service.get("User")
    for key, value in {"ProtectSystem": "strict", "NoNewPrivileges": "yes", "StateDirectory": "govbot",
                       "KillSignal": "SIGTERM", "PrivateTmp": "yes", "ProtectHome": "yes"}.items():
        assert service[key] == [value], key
    assert service["EnvironmentFile"] == ["/etc/govbot/govbot.env"]
    assert int(service["TimeoutStopSec"][0]) > SHUTDOWN.total_seconds()
    assert unit_file()["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_accepts_the_unit(tmp_path):
    text = (DEPLOY / "systemd" / "govbot.service").read_text()
    unit = tmp_path / "govbot.service"
    # verify checks that ExecStart exists: point it at this Python for the check.
    unit.write_text(re.sub(r"^ExecStart=.*$", f"ExecStart={sys.executable} -m bot serve", text, flags=re.MULTILINE))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in result.stderr.splitlines() if str(unit) in line or "govbot" in line]
    assert result.returncode == 0 and not problems, result.stderr


def test_slack_manifest_asks_for_the_scopes_govbot_uses():
    manifest = documents(DEPLOY / "slack-app-manifest.yaml")[0]
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "chat:write", "im:write", "users:read", "users:read.email", "commands",
        "im:history", "channels:history", "groups:history"}  # the in-doubt lookup (bot/deliver/outbox.py)
    assert manifest["settings"]["socket_mode_enabled"] is True
    # The nudges' buttons and forms (nudges.buttons, on by default) arrive as interactivity payloads.
    assert load_config(None, search=False).settings.nudges.buttons is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == load_config(None, search=False).section("service")["slash_command"]


def test_the_guide_covers_every_variable_and_file():
    guide = GUIDE.read_text()
    for name in ("JIRA_URL", "JIRA_EMAIL", "JIRA_API_TOKEN", "JIRA_PAT", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN",
                 "GOVBOT_DATABASE_URL", "GOVBOT_CONFIG", "SLACK_API_URL", "POSTGRES_PASSWORD",
                 "GOVBOT_WEBHOOK_SECRET", "GOVBOT_DASHBOARD_USER", "GOVBOT_DASHBOARD_PASSWORD",
                 "GOVBOT_DASHBOARD_TOKEN"):
        assert f"`{name}`" in guide, name
    for path in ("deploy/Dockerfile", "deploy/docker-compose.yml", "deploy/k8s/deployment.yaml",
                 "deploy/k8s/cronjobs.yaml", "deploy/k8s/secret.example.yaml", "deploy/k8s/configmap.yaml",
                 "deploy/systemd/govbot.service", "deploy/slack-app-manifest.yaml", "deploy/.env.example"):
        assert path in guide and (ROOT / path).exists(), path
    for scope in ("chat:write", "im:write", "users:read", "users:read.email", "commands", "connections:write"):
        assert f"`{scope}`" in guide, scope


def test_the_guide_lists_every_metric_the_service_exports():
    from bot.service.health import Metrics

    listed = set(re.findall(r"^\| `(govbot_\w+)", GUIDE.read_text(), re.MULTILINE))
    exported = set(Metrics()._families)
    assert listed == exported, f"missing from docs/deploy.md: {sorted(exported - listed)}; " \
                               f"not exported: {sorted(listed - exported)}"
