"""The deployment files, checked by parsers: the image cannot be built on these machines.

What a test can see: app.yml is the manifest /setup posts; the Dockerfile runs as a
non-root user, has a HEALTHCHECK on /healthz, exposes the port it listens on, keeps
its data in a volume, bakes no secret, and installs with the quick start's own script;
compose.yaml is valid Compose (the schema check-jsonschema bundles) and takes its
credentials from an env file.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from bot.github.manifest import app_manifest

ROOT = Path(__file__).resolve().parent.parent
SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PRIVATE|KEY|^GITHUB_", re.IGNORECASE)


def _stages() -> list[list[dict[str, Any]]]:
    """The Dockerfile's instructions, one list per FROM."""
    parser = DockerfileParser(str(ROOT / "Dockerfile"), cache_content=True)
    stages: list[list[dict[str, Any]]] = []
    for item in parser.structure:
        if item["instruction"] == "FROM":
            stages.append([])
        if stages and item["instruction"] != "COMMENT":
            stages[-1].append(item)
    return stages


def _values(stage: list[dict[str, Any]], instruction: str) -> list[str]:
    return [item["value"] for item in stage if item["instruction"] == instruction]


def _runtime_env() -> dict[str, str]:
    return DockerfileParser(str(ROOT / "Dockerfile"), cache_content=True).envs


def test_app_yml_is_the_manifest_setup_posts() -> None:
    text = (ROOT / "app.yml").read_text()
    assert yaml.safe_load(text) == app_manifest("https://PUBLIC_URL")


def test_dockerfile_is_multi_stage_on_slim_python() -> None:
    parser = DockerfileParser(str(ROOT / "Dockerfile"), cache_content=True)
    assert parser.is_multistage
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", parser.baseimage)
    build, runtime = _stages()
    assert _values(build, "FROM")[0].endswith(" AS build")
    assert _values(runtime, "COPY") == ["--from=build /app /app"]


def test_dockerfile_installs_as_the_quick_start_does() -> None:
    build, runtime = _stages()
    [run] = _values(build, "RUN")
    # the quick start's install, then the byte-compiling it skips (the image's user
    # cannot write __pycache__ at run time)
    assert re.split(r"\s*&&\s*", run.strip()) == [
        "./scripts/install",
        ".venv/bin/python -m compileall -q .venv bot",
    ]
    assert "./scripts/install\n" in (ROOT / "scripts" / "serve").read_text()
    assert _values(runtime, "CMD") == ['["python", "-m", "bot"]']


def test_dockerfile_runs_as_a_non_root_user() -> None:
    runtime = _stages()[-1]
    users = _values(runtime, "USER")
    assert users, "the runtime stage must set USER"
    assert users[-1].split(":")[0] not in ("root", "0")
    last_user = max(i for i, item in enumerate(runtime) if item["instruction"] == "USER")
    assert all(item["instruction"] not in ("RUN", "COPY") for item in runtime[last_user:])


def test_dockerfile_exposes_the_port_and_listens_beyond_loopback() -> None:
    env = _runtime_env()
    assert env["HOST"] == "0.0.0.0"
    assert _values(_stages()[-1], "EXPOSE") == [env["PORT"]]


def test_dockerfile_keeps_the_store_in_a_volume() -> None:
    env = _runtime_env()
    volumes = json.loads(_values(_stages()[-1], "VOLUME")[0])
    database = env["DATABASE_URL"].removeprefix("sqlite:///")
    assert any(Path(database).is_relative_to(volume) for volume in volumes)


def test_dockerfile_healthcheck_asks_healthz_with_the_stdlib() -> None:
    (check,) = _values(_stages()[-1], "HEALTHCHECK")
    options, _, command = check.partition("CMD")
    assert "--interval=" in options and "--timeout=" in options
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"]
    assert "urllib.request" in argv[2] and "/healthz" in argv[2]
    assert "os.environ.get('PORT'" in argv[2]  # follows PORT when it is overridden
    compile(argv[2], "<healthcheck>", "exec")


def test_dockerfile_bakes_no_secret() -> None:
    parser = DockerfileParser(str(ROOT / "Dockerfile"), cache_content=True)
    names = list(parser.envs) + list(parser.args)
    for stage in _stages():
        for value in _values(stage, "ARG"):
            names.append(value.split("=", 1)[0])
    assert names and not [name for name in names if SECRET_NAME.search(name)]
    assert "BEGIN" not in parser.content  # no key material pasted in


def test_dockerignore_keeps_local_state_and_credentials_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".env", "*.pem", ".venv", "data", ".git"):
        assert entry in ignored


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_file_is_valid_compose() -> None:
    schema = ["--builtin-schema", "vendor.compose-spec"]
    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", *schema, str(ROOT / "compose.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_compose_runs_the_bot_on_postgres(compose: dict[str, Any]) -> None:
    bot, db = compose["services"]["bot"], compose["services"]["db"]
    assert bot["build"] == "."
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql://audit:${POSTGRES_PASSWORD")
    assert bot["environment"]["DATABASE_URL"].endswith("@db:5432/audit")
    assert bot["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in shlex.join(db["healthcheck"]["test"])
    assert "/healthz" in shlex.join(bot["healthcheck"]["test"])
    assert f":{_runtime_env()['PORT']}/healthz" in shlex.join(bot["healthcheck"]["test"])
    named = set(compose["volumes"])
    assert {volume.split(":")[0] for volume in bot["volumes"] + db["volumes"]} <= named


def test_compose_takes_credentials_from_an_env_file(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        for name, value in service.get("environment", {}).items():
            if SECRET_NAME.search(name):
                assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", value), name  # interpolated only
            assert "BEGIN" not in str(value)
    assert compose["services"]["bot"]["env_file"] == ".env"
