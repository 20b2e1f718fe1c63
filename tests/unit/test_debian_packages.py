"""scripts/debian_packages.sh: what `make run` and `make test` install on a Debian or Ubuntu machine.

Each test runs the real script with stand-ins for dpkg-query, apt-get, sudo and id on PATH, so it
shows the script's decisions without touching this machine's packages.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from config import BASE_DIR

SCRIPT = BASE_DIR / "scripts" / "debian_packages.sh"
RUNTIME = ["libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "fonts-liberation2"]
FOR_TESTS = ["poppler-utils", "chromium"]

FAKES = {
    # dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' PKG...: answers from the state file.
    "dpkg-query": r"""
echo "dpkg-query $*" >> "$FAKE_LOG"
declare -A state
while read -r name status; do state[$name]=$status; done < "$FAKE_DPKG_STATE"
rc=0
for arg in "$@"; do
  case $arg in -W | -f=*) continue ;; esac
  if [[ -n ${state[$arg]:-} ]]; then
    printf '%s %s \n' "$arg" "${state[$arg]}"
  else
    echo "dpkg-query: no packages found matching $arg" >&2
    rc=1
  fi
done
exit $rc
""",
    # Records its call; `install` marks its packages as installed.
    "apt-get": r"""
echo "apt-get $* (DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-})" >> "$FAKE_LOG"
[[ $1 == install ]] || exit 0
for arg in "${@:2}"; do
  [[ $arg == -* ]] || echo "$arg ii" >> "$FAKE_DPKG_STATE"
done
""",
    "sudo": r"""
[[ $1 == -n ]] && shift
if [[ ${FAKE_SUDO:-} != ok ]]; then
  echo "sudo: a password is required" >&2
  exit 1
fi
echo "sudo $*" >> "$FAKE_LOG"
exec "$@"
""",
    "id": 'echo "$FAKE_UID"\n',
}


@dataclass
class Machine:
    """A pretend machine: which packages dpkg knows, who we are, whether sudo works."""

    root: Path
    env: dict[str, str]

    def has(self, *packages: str, status: str = "ii") -> None:
        with (self.root / "dpkg-state").open("a") as state:
            state.writelines(f"{name} {status}\n" for name in packages)

    def run(self, target: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["/bin/bash", str(SCRIPT), target], env=self.env, capture_output=True, text=True, timeout=30, check=False
        )

    @property
    def calls(self) -> list[str]:
        log = self.root / "calls.log"
        return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in FAKES.items():
        fake = bin_dir / name
        fake.write_text("#!/bin/bash\n" + body)
        fake.chmod(0o755)
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("#!/bin/bash\n")
    (venv / "bin" / "python").chmod(0o755)  # the virtual environment exists: no Python packages wanted
    (tmp_path / "dpkg-state").write_text("")
    env = {
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "FAKE_DPKG_STATE": str(tmp_path / "dpkg-state"),
        "FAKE_LOG": str(tmp_path / "calls.log"),
        "FAKE_UID": "1000",
        "VENV": str(venv),
        "PYTHON": "python3",
    }
    return Machine(tmp_path, env)


def test_a_machine_that_has_every_package_pays_one_dpkg_query_and_hears_nothing(machine: Machine) -> None:
    machine.has(*RUNTIME, *FOR_TESTS)

    result = machine.run("test")

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert len(machine.calls) == 1
    assert machine.calls[0].startswith("dpkg-query -W")


def test_make_run_needs_neither_chromium_nor_poppler(machine: Machine) -> None:
    machine.has(*RUNTIME)

    assert machine.run("run").returncode == 0
    assert machine.run("test").returncode == 1


def test_without_root_or_sudo_it_stops_and_prints_the_one_command_to_run(machine: Machine) -> None:
    machine.has("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "chromium")

    result = machine.run("test")

    assert result.returncode == 1
    assert "    sudo apt-get install fonts-liberation2 poppler-utils\n" in result.stderr
    assert result.stderr.count("apt-get install") == 1
    assert not [call for call in machine.calls if call.startswith(("apt-get", "sudo"))]


def test_as_root_it_installs_only_what_is_missing_without_questions_then_checks_again(machine: Machine) -> None:
    machine.env["FAKE_UID"] = "0"
    machine.has(*RUNTIME, "poppler-utils")

    result = machine.run("test")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "Installing Debian packages: chromium\n"
    assert machine.calls[1:] == [
        "apt-get update -qq (DEBIAN_FRONTEND=)",
        "apt-get install -y -qq --no-install-recommends chromium (DEBIAN_FRONTEND=noninteractive)",
        f"dpkg-query -W -f=${{Package}} ${{db:Status-Abbrev}}\\n {' '.join(RUNTIME)} poppler-utils chromium",
    ]


def test_with_sudo_that_needs_no_password_it_installs_through_sudo(machine: Machine) -> None:
    machine.env["FAKE_SUDO"] = "ok"
    machine.has(*RUNTIME[:-1])

    result = machine.run("run")

    assert result.returncode == 0, result.stderr
    assert (
        "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-liberation2"
        in (machine.calls)
    )


def test_a_package_removed_since_the_last_run_is_installed_again(machine: Machine) -> None:
    machine.has(*RUNTIME[:-1])
    machine.has("fonts-liberation2", status="rc")  # removed; only its configuration files are left

    result = machine.run("run")

    assert result.returncode == 1
    assert "sudo apt-get install fonts-liberation2\n" in result.stderr


def test_a_chromium_named_by_chromium_is_used_instead_of_the_package(machine: Machine) -> None:
    machine.has(*RUNTIME, "poppler-utils")
    machine.env["CHROMIUM"] = str(machine.root / "venv" / "bin" / "python")  # any executable will do

    assert machine.run("test").returncode == 0


def test_before_the_virtual_environment_exists_a_python_without_ensurepip_gets_its_venv_package(
    machine: Machine,
) -> None:
    python = machine.root / "bin" / "python3.12"
    python.write_text('#!/bin/bash\n[[ $2 == "import ensurepip" ]] && exit 1\necho 3.12\n')
    python.chmod(0o755)
    machine.env.update(PYTHON="python3.12", VENV=str(machine.root / "no-venv-yet"))
    machine.has(*RUNTIME)

    result = machine.run("run")

    assert "    sudo apt-get install python3.12-venv\n" in result.stderr


def test_on_a_system_without_dpkg_it_only_names_what_to_install(machine: Machine) -> None:
    machine.env["PATH"] = str(machine.root / "bin")
    (machine.root / "bin" / "dpkg-query").unlink()

    result = machine.run("run")

    assert result.returncode == 0
    assert result.stderr.startswith("Not a Debian or Ubuntu system")
    assert "fonts-liberation2" in result.stderr


def test_an_unknown_target_is_refused(machine: Machine) -> None:
    result = machine.run("everything")

    assert result.returncode == 2
    assert "usage:" in result.stderr
