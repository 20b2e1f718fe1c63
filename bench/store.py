"""Where built datasets are kept between runs, and the scratch copies each run works on.

A dataset is built once per (backend, size, dataset version, schema head) and kept: SQLite as a
file under bench/.data, PostgreSQL as a database named after the same key. Each run works on a
copy (a file copy; `CREATE DATABASE … TEMPLATE`), because the webhook runs add events to it, and
drops the copy afterwards. Copies from an older version or schema are removed when a new one is
built.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.dataset import DATASET_VERSION, ROOT, schema_head

DATA_DIR = ROOT / "bench" / ".data"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def dataset_key(backend: str, size: int, head: str) -> str:
    return f"{backend}_{size}_v{DATASET_VERSION}_{head.replace('-', '_')}"


def _build(url: str, size: int) -> dict[str, Any]:
    """Build in a child process (its memory and engines go with it), echoing its progress."""
    log = DATA_DIR / "logs" / f"build_{size}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.dataset", "--url", url, "--size", str(size)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        assert process.stdout is not None  # noqa: S101 - we asked for a pipe
        last = ""
        for line in process.stdout:
            if line.startswith("{"):
                last = line
            else:
                print(line, end="", flush=True)
    if process.wait() != 0 or not last:
        tail = "".join(log.read_text().splitlines(keepends=True)[-20:])
        raise RuntimeError(f"Building {size:,} pledges failed:\n{tail}")
    return dict(json.loads(last))


@dataclass
class SqliteStore:
    backend = "sqlite"
    data_dir: Path = DATA_DIR
    # Read once: a migration added while a run is going must not switch datasets under it.
    head: str = field(default_factory=schema_head)

    def path(self, size: int) -> Path:
        return self.data_dir / f"{dataset_key(self.backend, size, self.head)}.sqlite3"

    def ensure(self, size: int) -> tuple[dict[str, Any], bool]:
        """The dataset's description, building it first if it is not kept yet; and whether it was kept."""
        path, info_path = self.path(size), self.path(size).with_suffix(".json")
        if path.exists() and info_path.exists():
            return json.loads(info_path.read_text()), True
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.data_dir.glob(f"{self.backend}_{size}_v*"):
            stale.unlink()
        part = path.with_suffix(".part")
        for leftover in (part, Path(f"{part}-wal"), Path(f"{part}-shm")):
            leftover.unlink(missing_ok=True)
        info = _build(f"sqlite:///{part}", size)
        part.rename(path)
        info_path.write_text(json.dumps(info, indent=2))
        return info, False

    def work_copy(self, size: int) -> str:
        work = self.data_dir / f"work_{self.backend}_{size}_{os.getpid()}.sqlite3"
        self.drop(f"sqlite:///{work}")
        shutil.copyfile(self.path(size), work)
        return f"sqlite:///{work}"

    def drop(self, url: str) -> None:
        path = Path(url.removeprefix("sqlite:///"))
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)

    def version(self) -> str:
        import sqlite3

        return sqlite3.sqlite_version


@dataclass
class PostgresStore:
    server_url: str = DEFAULT_POSTGRES_URL
    data_dir: Path = DATA_DIR
    head: str = field(default_factory=schema_head)
    backend = "postgresql"

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(self.server_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)

    def reachable(self) -> bool:
        try:
            import psycopg

            psycopg.connect(
                self.server_url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3
            ).close()
        except Exception:  # noqa: BLE001 - any failure means "not here"
            return False
        return True

    def url(self, database: str) -> str:
        from sqlalchemy import make_url

        url = make_url(self.server_url.replace("postgresql://", "postgresql+psycopg://", 1))
        return url.set(database=database).render_as_string(hide_password=False)

    def _databases(self) -> set[str]:
        with self._admin() as conn:
            return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}

    def _drop(self, name: str) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def ensure(self, size: int) -> tuple[dict[str, Any], bool]:
        name = f"pledgeline_bench_{dataset_key(self.backend, size, self.head)}"
        info_path = self.data_dir / f"{dataset_key(self.backend, size, self.head)}.json"
        existing = self._databases()
        if name in existing and info_path.exists():
            return json.loads(info_path.read_text()), True
        for stale in existing:
            if stale.startswith(f"pledgeline_bench_{self.backend}_{size}_v") and stale != name:
                self._drop(stale)
        for stale_info in self.data_dir.glob(f"{self.backend}_{size}_v*.json"):
            stale_info.unlink()
        part = f"{name}_part"
        self._drop(part)
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{part}"')
        info = _build(self.url(part), size)
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'ALTER DATABASE "{part}" RENAME TO "{name}"')
        self.data_dir.mkdir(parents=True, exist_ok=True)
        info_path.write_text(json.dumps(info, indent=2))
        return info, False

    def work_copy(self, size: int) -> str:
        name = f"pledgeline_bench_work_{size}_{os.getpid()}"
        self._drop(name)
        with self._admin() as conn:
            conn.execute(
                f'CREATE DATABASE "{name}" TEMPLATE "pledgeline_bench_{dataset_key(self.backend, size, self.head)}"'
            )
        return self.url(name)

    def drop(self, url: str) -> None:
        from sqlalchemy import make_url

        database = make_url(url).database
        if database:
            self._drop(database)

    def version(self) -> str:
        with self._admin() as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"
