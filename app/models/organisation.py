from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import StrEnum, enum_column


class OrganisationKind(StrEnum):
    COUNCIL = "council"
    SPONSOR = "sponsor"
    OTHER = "other"


class CouncilType(StrEnum):
    DISTRICT = "district"
    COUNTY = "county"
    UNITARY = "unitary"
    METROPOLITAN = "metropolitan"
    LONDON_BOROUGH = "london_borough"
    COMBINED_AUTHORITY = "combined_authority"
    TOWN_PARISH = "town_parish"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "district": "District council",
            "county": "County council",
            "unitary": "Unitary authority",
            "metropolitan": "Metropolitan borough",
            "london_borough": "London borough",
            "combined_authority": "Combined authority",
            "town_parish": "Town or parish council",
            "other": "Other council",
        }[self.value]


class Organisation(db.Model):  # type: ignore[name-defined,misc]
    """A council, a sponsor or another body that pledges or is pledged on behalf of."""

    __tablename__ = "organisation"
    __table_args__ = (
        CheckConstraint("population IS NULL OR population > 0", name="population_positive"),
        CheckConstraint(
            "(kind = 'council' AND council_type IS NOT NULL) OR (kind != 'council' AND council_type IS NULL)",
            name="council_type_for_councils",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[OrganisationKind] = mapped_column(enum_column(OrganisationKind, "organisation_kind"), index=True)
    council_type: Mapped[CouncilType | None] = mapped_column(enum_column(CouncilType, "council_type"))
    gss_code: Mapped[str | None] = mapped_column(String(9), unique=True)
    population: Mapped[int | None] = mapped_column(Integer)
    website: Mapped[str | None] = mapped_column(String(300))

    # From the UK council register (app.councils.register); empty for councils added by hand.
    # `register_code` is the register's own code ("ADU"), the one 360Giving ids use (GB-LAE-ADU).
    register_code: Mapped[str | None] = mapped_column(String(8), unique=True)
    short_name: Mapped[str | None] = mapped_column(String(200))  # "Adur", for searching and short lists
    nation: Mapped[str | None] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(40))
    county: Mapped[str | None] = mapped_column(String(200))  # the county council above a district
    # A council merged into another or abolished is kept (pledges and invoices name it), marked ended.
    ended_on: Mapped[date | None] = mapped_column(Date)
    replaced_by: Mapped[str | None] = mapped_column(String(200))

    @property
    def is_current(self) -> bool:
        return self.ended_on is None

    def __repr__(self) -> str:
        return f"<Organisation {self.slug}>"
