from __future__ import annotations

from sqlalchemy import CheckConstraint, Integer, String
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

    def __repr__(self) -> str:
        return f"<Organisation {self.slug}>"
