"""A web worker loads only what serving pages needs: the migration tools are for the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI_ONLY = ("flask_migrate", "alembic", "mako", "pygments")


def _modules_after(code: str, **environ: str) -> set[str]:
    env = {k: v for k, v in os.environ.items() if k != "FLASK_RUN_FROM_CLI"} | environ
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _loaded(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in CLI_ONLY)


def test_a_web_worker_does_not_load_the_migration_tools(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'worker.db'}"
    modules = _modules_after(
        "from wsgi import app\napp.test_client().get('/healthz')", DATABASE_URL=database, PLEDGELINE_ENV="development"
    )
    assert "flask" in modules and "sqlalchemy" in modules
    assert _loaded(modules) == [], "a web worker imported the command line's migration tools"


def test_the_flask_command_still_has_the_migration_commands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "upgrade" in out.stdout and "heads" in out.stdout
