"""The UK council register: loaded from the shipped list, idempotent, matching councils already here."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.councils import register
from app.extensions import db
from app.models import CouncilType, Organisation, OrganisationKind
from tests.factories import OrganisationFactory, SponsorFactory

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = (*register.REQUIRED, "gss-code", "nice-name", "nation", "region", "county-la", "end-date", "replaced-by")


def _councils() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Organisation).where(Organisation.kind == "council")) or 0


def _current() -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Organisation)
            .where(Organisation.register_code.is_not(None), Organisation.ended_on.is_(None))
        )
        or 0
    )


def _by_code(code: str) -> Organisation:
    db.session.expire_all()
    return db.session.scalars(select(Organisation).where(Organisation.register_code == code)).one()


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({column: row.get(column, "") for column in COLUMNS})
    return path


ADUR = {
    "local-authority-code": "ADU",
    "official-name": "Adur District Council",
    "nice-name": "Adur",
    "gss-code": "E07000223",
    "local-authority-type": "NMD",
    "current-authority": "True",
    "nation": "England",
    "region": "South East",
    "county-la": "WSX",
}
WEST_SUSSEX = {
    "local-authority-code": "WSX",
    "official-name": "West Sussex County Council",
    "gss-code": "E10000032",
    "local-authority-type": "CTY",
    "current-authority": "True",
}


def test_the_shipped_register_has_every_current_council_and_a_second_import_changes_nothing() -> None:
    first = register.import_register()

    assert (first.read, first.current, first.added) == (470, 397, 397)
    assert _councils() == 397 and _current() == 397
    adur = _by_code("ADU")
    assert (adur.name, adur.gss_code, adur.council_type) == ("Adur District Council", "E07000223", CouncilType.DISTRICT)
    assert (adur.nation, adur.region, adur.county, adur.short_name) == (
        "England",
        "South East",
        "West Sussex County Council",
        "Adur",
    )
    assert adur.population == 64187 and adur.is_current
    assert _by_code("ABD").nation == "Scotland" and _by_code("ABD").council_type == CouncilType.UNITARY
    assert _by_code("GMCA").council_type == CouncilType.COMBINED_AUTHORITY

    second = register.import_register()

    assert (second.added, second.updated, second.unchanged, second.ended) == (0, 0, 397, [])
    assert _councils() == 397 and _current() == 397
    assert _by_code("ADU").id == adur.id


def test_councils_already_here_are_matched_not_duplicated_and_keep_their_slug() -> None:
    leeds = OrganisationFactory(
        name="Leeds City Council",
        slug="leeds-city-council",
        gss_code="E08000035",
        council_type=CouncilType.METROPOLITAN,
    )
    by_name_only = OrganisationFactory(name="Adur District Council", slug="adur", gss_code=None)
    frome = OrganisationFactory(name="Frome Town Council", slug="frome", council_type=CouncilType.TOWN_PARISH)

    register.import_register()

    assert _councils() == 398  # 397 from the register and the town council added by hand
    assert _by_code("LDS").id == leeds.id and _by_code("LDS").slug == "leeds-city-council"
    assert _by_code("ADU").id == by_name_only.id and _by_code("ADU").gss_code == "E07000223"
    db.session.refresh(frome)
    assert frome.register_code is None and frome.is_current


def test_a_council_that_was_merged_is_marked_with_its_successor_not_deleted() -> None:
    allerdale = OrganisationFactory(name="Allerdale Borough Council", slug="allerdale", gss_code="E07000026")

    report = register.import_register()

    db.session.refresh(allerdale)
    assert allerdale.register_code == "ALL" and not allerdale.is_current
    assert allerdale.ended_on == date(2023, 4, 1) and allerdale.replaced_by == "Cumberland Council"
    assert report.ended == ["Allerdale Borough Council"]
    assert _councils() == 398
    # Past councils we never had are not added.
    assert db.session.scalar(select(Organisation).where(Organisation.name == "Aylesbury Vale District Council")) is None


def test_re_importing_a_newer_file_marks_a_council_that_ended_and_updates_the_rest(tmp_path: Path) -> None:
    register.import_register(_write(tmp_path / "v1.csv", [ADUR, WEST_SUSSEX]))
    ended = {**ADUR, "current-authority": "False", "end-date": "2028-04-01", "replaced-by": "WSX"}
    renamed = {**WEST_SUSSEX, "official-name": "West Sussex Council"}

    report = register.import_register(_write(tmp_path / "v2.csv", [ended, renamed]))

    assert (report.added, report.updated, report.ended) == (0, 2, ["Adur District Council"])
    adur = _by_code("ADU")
    assert adur.ended_on == date(2028, 4, 1) and adur.replaced_by == "West Sussex Council"
    assert _by_code("WSX").name == "West Sussex Council"
    assert _councils() == 2


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"local-authority-type": "XYZ"}, "Line 3: unknown type of council 'XYZ' for ADU"),
        ({"gss-code": "123"}, "Line 3: '123' is not a GSS code like E07000223"),
        ({"local-authority-code": "WSX"}, "Line 3: council code WSX is also on line 2"),
        ({"end-date": "soon"}, "Line 3: end-date 'soon' is not a date like 2023-04-01"),
    ],
)
def test_a_bad_row_is_reported_by_line_and_nothing_is_imported(
    tmp_path: Path, bad: dict[str, str], message: str
) -> None:
    path = _write(tmp_path / "bad.csv", [WEST_SUSSEX, {**ADUR, **bad}])
    with pytest.raises(register.RegisterError, match=message):
        register.import_register(path)
    assert _councils() == 0


def test_a_sponsor_with_a_councils_name_is_refused_rather_than_turned_into_a_council(tmp_path: Path) -> None:
    SponsorFactory(name="Adur District Council")
    with pytest.raises(register.RegisterError, match="Line 3: Adur District Council is already here as a sponsor"):
        register.import_register(_write(tmp_path / "r.csv", [WEST_SUSSEX, ADUR]))
    assert _councils() == 0
    assert db.session.scalars(select(Organisation.kind)).all() == [OrganisationKind.SPONSOR]


def test_the_command_reports_counts_and_refuses_a_bad_file(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["councils", "import"])
    assert result.exit_code == 0, result.output
    assert "470 rows read, 397 current councils. 397 added, 0 updated, 0 unchanged." in result.output

    missing = runner.invoke(args=["councils", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "Cannot read nope.csv" in missing.output
    bad = runner.invoke(
        args=["councils", "import", str(_write(tmp_path / "b.csv", [{**ADUR, "local-authority-type": ""}]))]
    )
    assert bad.exit_code == 1 and "Line 2: unknown type of council '' for ADU. Nothing was imported." in bad.output


def test_two_imports_at_once_leave_one_row_per_council(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key-for-the-cli"}

    def run(_: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "councils", "import"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(run, range(2)))

    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    db.session.rollback()
    assert _councils() == 397 and _current() == 397
