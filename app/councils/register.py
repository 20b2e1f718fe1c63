"""The UK council register: every current UK local authority, loaded from mySociety's list.

`import_register()` (`flask councils import [FILE]`) reads the shipped copy (or another file in
the same format) and brings the organisation table in line with it, in one transaction:
- a council already here is found by its register code, then its GSS code, then its name (so
  the demo's councils, and councils added before the register, are matched, never duplicated),
  and its details are updated;
- a current authority not yet here is added;
- an authority the file says has ended (merged or abolished) is marked with its end date and
  successor if we have it, and never deleted: pledges and invoices still name it. Ended
  authorities we never had are not added.
A file with a row that cannot be read is refused with the line number, and nothing is changed.
Running it twice, or two at once, leaves the same rows (unique register and GSS codes).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.database import write_transaction
from app.extensions import db
from app.models import CouncilType, Organisation, OrganisationKind
from app.templating import LONDON

SHIPPED = Path(__file__).parent / "data" / "uk_local_authorities.csv"
CREDIT = "Council register: mySociety, UK Local Authorities (CC BY 4.0)"

# The register's local-authority-type codes, as the kinds of council this product knows.
TYPES = {
    "NMD": CouncilType.DISTRICT,  # non-metropolitan district
    "NID": CouncilType.DISTRICT,  # Northern Ireland district
    "UA": CouncilType.UNITARY,
    "SCO": CouncilType.UNITARY,  # Scottish unitary authority
    "WPA": CouncilType.UNITARY,  # Welsh unitary authority
    "MD": CouncilType.METROPOLITAN,
    "LBO": CouncilType.LONDON_BOROUGH,
    "CTY": CouncilType.COUNTY,
    "COMB": CouncilType.COMBINED_AUTHORITY,
    "SRA": CouncilType.OTHER,  # Greater London Authority
    "CC": CouncilType.OTHER,  # City of London Corporation
}
REQUIRED = ("local-authority-code", "official-name", "local-authority-type", "current-authority")
_GSS = re.compile(r"^[ENSW]\d{8}$")
_CODE = re.compile(r"^[A-Z]{3,4}$|^NIR-[A-Z]$")


class RegisterError(ValueError):
    """The file cannot be imported; the message names the line."""


@dataclass(frozen=True)
class Row:
    line: int
    code: str
    name: str
    short_name: str
    gss_code: str | None
    council_type: CouncilType
    nation: str | None
    region: str | None
    county_code: str | None
    is_current: bool
    ended_on: date | None
    replaced_by_code: str | None
    population: int | None


@dataclass
class ImportReport:
    read: int = 0
    current: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    ended: list[str] = field(default_factory=list)  # names newly marked as no longer current

    def __str__(self) -> str:
        ended = f"; {len(self.ended)} marked as merged or abolished" if self.ended else ""
        return (
            f"Council register: {self.read} rows read, {self.current} current councils. "
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged{ended}."
        )


def _date(text: str, line: int, column: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise RegisterError(f"Line {line}: {column} {text!r} is not a date like 2023-04-01") from error


def read_rows(path: Path) -> list[Row]:
    """Every row of a register file, checked; RegisterError with the line number otherwise."""
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as error:
        raise RegisterError(f"Cannot read {path.name}: {error.strerror}") from error
    rows: list[Row] = []
    seen: dict[str, int] = {}
    with handle:
        reader = csv.DictReader(handle)
        missing = [name for name in REQUIRED if name not in (reader.fieldnames or [])]
        if missing:
            raise RegisterError(f"Line 1: the file has no {', '.join(missing)} column")
        for raw in reader:
            line = reader.line_num
            code = (raw.get("local-authority-code") or "").strip()
            if not _CODE.match(code):
                raise RegisterError(f"Line {line}: {code!r} is not a council code like ADU or GMCA")
            if code in seen:
                raise RegisterError(f"Line {line}: council code {code} is also on line {seen[code]}")
            seen[code] = line
            kind = (raw.get("local-authority-type") or "").strip()
            if kind not in TYPES:
                raise RegisterError(f"Line {line}: unknown type of council {kind!r} for {code}")
            name = (raw.get("official-name") or "").strip()
            if not name or len(name) > 200:
                raise RegisterError(f"Line {line}: council {code} needs a name of up to 200 characters")
            gss = (raw.get("gss-code") or "").strip() or None
            if gss is not None and not _GSS.match(gss):
                raise RegisterError(f"Line {line}: {gss!r} is not a GSS code like E07000223")
            population_text = (raw.get("pop-2020") or "").strip()
            try:
                population = round(float(population_text)) if population_text else None
            except ValueError as error:
                raise RegisterError(f"Line {line}: population {population_text!r} is not a number") from error
            current_text = (raw.get("current-authority") or "").strip()
            if current_text not in ("True", "False"):
                raise RegisterError(f"Line {line}: current-authority must be True or False, not {current_text!r}")
            rows.append(
                Row(
                    line=line,
                    code=code,
                    name=name,
                    short_name=(raw.get("nice-name") or "").strip() or name,
                    gss_code=gss,
                    council_type=TYPES[kind],
                    nation=(raw.get("nation") or "").strip() or None,
                    region=(raw.get("region") or "").strip() or None,
                    county_code=(raw.get("county-la") or "").strip() or None,
                    is_current=current_text == "True",
                    ended_on=_date((raw.get("end-date") or "").strip(), line, "end-date"),
                    replaced_by_code=(raw.get("replaced-by") or "").strip() or None,
                    population=population if population else None,
                )
            )
    return rows


def is_loaded() -> bool:
    """Whether any council has come from the register yet."""
    return (
        db.session.scalar(select(Organisation.id).where(Organisation.register_code.is_not(None)).limit(1)) is not None
    )


def _slug(name: str, taken: set[str], code: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:70]
    if slug in taken:
        slug = f"{slug}-{code.lower()}"
    taken.add(slug)
    return slug


def import_register(path: Path | None = None) -> ImportReport:
    """Bring the organisation table in line with a register file (the shipped one by default)."""
    rows = read_rows(path or SHIPPED)
    try:
        try:
            return _apply(rows)
        except IntegrityError:
            # Another import added the same councils a moment ago: this pass finds them and updates.
            db.session.rollback()
            return _apply(rows)
    except (RegisterError, IntegrityError):
        db.session.rollback()
        raise


def _apply(rows: list[Row]) -> ImportReport:
    names = {row.code: row.name for row in rows}
    report = ImportReport(read=len(rows), current=sum(row.is_current for row in rows))
    with write_transaction():
        organisations = list(db.session.scalars(select(Organisation)))
        by_code = {o.register_code: o for o in organisations if o.register_code}
        by_gss = {o.gss_code: o for o in organisations if o.gss_code}
        by_name = {o.name.casefold(): o for o in organisations}
        slugs = {o.slug for o in organisations}
        for row in rows:
            found = (
                by_code.get(row.code)
                or (by_gss.get(row.gss_code) if row.gss_code else None)
                or by_name.get(row.name.casefold())
            )
            if found is not None and found.kind != OrganisationKind.COUNCIL:
                raise RegisterError(
                    f"Line {row.line}: {row.name} is already here as a {found.kind.value}, not a council"
                )
            if found is None:
                if not row.is_current:
                    continue
                found = Organisation(slug=_slug(row.name, slugs, row.code), kind=OrganisationKind.COUNCIL)
                db.session.add(found)
                report.added += 1
                was_current = True
            else:
                was_current = found.is_current
            values = {
                "name": row.name,
                "register_code": row.code,
                "gss_code": row.gss_code or found.gss_code,
                "council_type": row.council_type,
                "short_name": row.short_name,
                "nation": row.nation,
                "region": row.region,
                "county": names.get(row.county_code) if row.county_code else None,
                "population": row.population or found.population,
                "ended_on": None if row.is_current else (row.ended_on or found.ended_on or datetime.now(LONDON).date()),
                "replaced_by": None if row.is_current else names.get(row.replaced_by_code or "", found.replaced_by),
            }
            changed = [key for key, value in values.items() if getattr(found, key) != value]
            for key in changed:
                setattr(found, key, values[key])
            if found not in db.session.new:
                if changed:
                    report.updated += 1
                else:
                    report.unchanged += 1
            if was_current and not row.is_current:
                report.ended.append(row.name)
            by_code[row.code] = found
            if row.gss_code:
                by_gss[row.gss_code] = found
            by_name[row.name.casefold()] = found
            if changed:
                db.session.flush()  # so a clash of names or codes names this line
        db.session.commit()
    return report
