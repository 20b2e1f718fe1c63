"""The fair-share suggestion: what a council might pledge, by a published and explained formula.

No council is told what to pay. The suggestion is there so a council can see what "its share"
would look like beside councils of other types and sizes, and then pledge any amount it likes.

The formula, in whole pence (never floats):

    suggested = population × pence_per_resident × weight for the council's type ÷ 100
    then rounded to the nearest £50 (halves round up),
    then kept between the minimum and the maximum.

A campaign can change any part of it through `Campaign.fair_share`, a JSON object with any of
these keys (anything left out keeps its default):

    {"pence_per_resident": 1, "weights": {"district": 40, ...}, "minimum_pence": 10000,
     "maximum_pence": 1000000, "round_to_pence": 5000}

The default weights, and why (percentages of the per-resident rate):

- county, unitary, metropolitan borough, London borough: 100 %. They run the big services
  (social care, education, highways) for everyone who lives there and hold the largest budgets.
- district: 40 %. Its residents are also the county's residents, and the county above it is
  already suggested a full share for them; districts run fewer services on smaller budgets.
- combined authority: 25 %. Its residents are already counted by the councils that make it up;
  it adds a share for the regional work it leads.
- town or parish: 5 %. Very small budgets; most will be suggested the minimum.
- other councils (fire, national park, police and crime …): 50 %.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.models import Campaign, CouncilType, Organisation
from app.money import Money

DEFAULT_PENCE_PER_RESIDENT = 1
DEFAULT_MINIMUM_PENCE = 100_00  # £100
DEFAULT_MAXIMUM_PENCE = 10_000_00  # £10,000
DEFAULT_ROUND_TO_PENCE = 50_00  # £50

DEFAULT_WEIGHTS: dict[CouncilType, int] = {
    CouncilType.COUNTY: 100,
    CouncilType.UNITARY: 100,
    CouncilType.METROPOLITAN: 100,
    CouncilType.LONDON_BOROUGH: 100,
    CouncilType.DISTRICT: 40,
    CouncilType.COMBINED_AUTHORITY: 25,
    CouncilType.TOWN_PARISH: 5,
    CouncilType.OTHER: 50,
}

# Why each type gets its weight, in words a council officer would use.
WEIGHT_REASONS: dict[CouncilType, str] = {
    CouncilType.COUNTY: "Runs the big services for every resident and holds the largest budgets.",
    CouncilType.UNITARY: "Runs every council service for its residents.",
    CouncilType.METROPOLITAN: "Runs every council service for its residents.",
    CouncilType.LONDON_BOROUGH: "Runs most council services for its residents.",
    CouncilType.DISTRICT: "Shares its residents with the county council above it, which is already "
    "suggested a full share for them, and has a smaller budget.",
    CouncilType.COMBINED_AUTHORITY: "Its residents are already counted by the councils that make it up; "
    "this is a share for the regional work it leads.",
    CouncilType.TOWN_PARISH: "Has a very small budget; most are suggested the minimum.",
    CouncilType.OTHER: "Other public bodies, such as fire or national park authorities.",
}

# Populations used for the published examples: typical of each type in England.
EXAMPLE_POPULATIONS: dict[CouncilType, int] = {
    CouncilType.COUNTY: 750_000,
    CouncilType.UNITARY: 250_000,
    CouncilType.METROPOLITAN: 300_000,
    CouncilType.LONDON_BOROUGH: 300_000,
    CouncilType.DISTRICT: 100_000,
    CouncilType.COMBINED_AUTHORITY: 2_000_000,
    CouncilType.TOWN_PARISH: 10_000,
    CouncilType.OTHER: 100_000,
}

MAX_WEIGHT = 1000
MAX_PENCE_PER_RESIDENT = 100


class FairShareConfigError(ValueError):
    """A campaign's fair-share settings that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Formula:
    """The fair-share formula for one campaign, defaults filled in."""

    currency: str = "GBP"
    pence_per_resident: int = DEFAULT_PENCE_PER_RESIDENT
    weights: Mapping[CouncilType, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    minimum_pence: int = DEFAULT_MINIMUM_PENCE
    maximum_pence: int = DEFAULT_MAXIMUM_PENCE
    round_to_pence: int = DEFAULT_ROUND_TO_PENCE

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None, currency: str = "GBP") -> Formula:
        """Merge a campaign's `fair_share` settings over the defaults, refusing anything unusable."""
        config = dict(config or {})
        unknown = set(config) - {"pence_per_resident", "weights", "minimum_pence", "maximum_pence", "round_to_pence"}
        if unknown:
            raise FairShareConfigError(f"Unknown fair-share settings: {', '.join(sorted(unknown))}.")

        def whole(name: str, default: int, low: int, high: int) -> int:
            value = config.get(name, default)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise FairShareConfigError(f"{name} must be a whole number from {low:,} to {high:,}.")
            return value

        weights = dict(DEFAULT_WEIGHTS)
        given = config.get("weights", {})
        if not isinstance(given, Mapping):
            raise FairShareConfigError("weights must map council types to percentages.")
        for name, value in given.items():
            try:
                council_type = CouncilType(name)
            except ValueError:
                raise FairShareConfigError(f"weights: {name!r} is not a council type.") from None
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WEIGHT:
                raise FairShareConfigError(f"weights: {name} must be a whole percentage from 0 to {MAX_WEIGHT}.")
            weights[council_type] = value
        minimum = whole("minimum_pence", DEFAULT_MINIMUM_PENCE, 0, 1_000_000_00)
        maximum = whole("maximum_pence", DEFAULT_MAXIMUM_PENCE, 1, 1_000_000_00)
        if minimum > maximum:
            raise FairShareConfigError("minimum_pence must not be more than maximum_pence.")
        return cls(
            currency=currency,
            pence_per_resident=whole("pence_per_resident", DEFAULT_PENCE_PER_RESIDENT, 1, MAX_PENCE_PER_RESIDENT),
            weights=weights,
            minimum_pence=minimum,
            maximum_pence=maximum,
            round_to_pence=whole("round_to_pence", DEFAULT_ROUND_TO_PENCE, 1, 1_000_000_00),
        )

    def money(self, pence: int) -> Money:
        return Money(pence, self.currency)

    def raw_pence(self, population: int, council_type: CouncilType) -> int:
        return population * self.pence_per_resident * self.weights[council_type] // 100

    def rounded(self, pence: int) -> int:
        """To the nearest `round_to_pence`, halves up."""
        step = self.round_to_pence
        return (pence + step // 2) // step * step

    def clamped(self, pence: int) -> int:
        return max(self.minimum_pence, min(self.maximum_pence, pence))

    def amount_pence(self, population: int | None, council_type: CouncilType) -> int:
        """The suggestion in pence; with no population known, the minimum."""
        if population is None:
            return self.minimum_pence
        return self.clamped(self.rounded(self.raw_pence(population, council_type)))

    @property
    def rate_text(self) -> str:
        return f"{self.pence_per_resident}p"

    @property
    def is_default(self) -> bool:
        return self == Formula(currency=self.currency)


@dataclass(frozen=True)
class Suggestion:
    """A suggested pledge for one council and, in plain English, how it was worked out."""

    amount: Money
    explanation: str
    council_type: CouncilType = CouncilType.OTHER
    population: int | None = None
    weight: int = 0
    working: str = ""  # the arithmetic alone, for tables of examples


def formula_for(campaign: Campaign) -> Formula:
    return Formula.from_config(campaign.fair_share, campaign.currency)


def _type_of(organisation: Organisation) -> CouncilType:
    return organisation.council_type or CouncilType.OTHER


# Each type in words, with its article, as it reads in the middle of a sentence.
DESCRIPTIONS: dict[CouncilType, str] = {
    CouncilType.COUNTY: "a county council",
    CouncilType.UNITARY: "a unitary authority",
    CouncilType.METROPOLITAN: "a metropolitan borough",
    CouncilType.LONDON_BOROUGH: "a London borough",
    CouncilType.DISTRICT: "a district council",
    CouncilType.COMBINED_AUTHORITY: "a combined authority",
    CouncilType.TOWN_PARISH: "a town or parish council",
    CouncilType.OTHER: "a council of another kind",
}


def _describe(council_type: CouncilType) -> str:
    return DESCRIPTIONS[council_type]


def explain(formula: Formula, name: str | None, council_type: CouncilType, population: int | None) -> Suggestion:
    """Work out and explain the suggestion for a council of this type and population.

    `name` is the council's name, or None for a worked example ("a district council").
    """
    weight = formula.weights[council_type]
    amount = formula.money(formula.amount_pence(population, council_type))
    label = _describe(council_type)
    bounds = (
        f"Suggestions are kept between {formula.money(formula.minimum_pence).format(whole=True)} and "
        f"{formula.money(formula.maximum_pence).format(whole=True)}."
    )
    choose = "This is only a suggestion: any amount is welcome."
    if population is None:
        text = (
            f"We do not have a population figure for {name or 'this council'}, so we suggest the minimum, "
            f"{amount.format(whole=True)}. {choose}"
        )
        return Suggestion(amount, text, council_type, None, weight, text)
    raw = formula.money(formula.raw_pence(population, council_type))
    whom = f"{name} ({label}, {population:,} residents)" if name else f"{label} with {population:,} residents"
    rounded = formula.money(formula.rounded(raw.pence))
    steps = (
        f"For {whom}: "
        f"{population:,} × {formula.rate_text} per resident × "
        f"{weight}% = {raw}, which rounds to {rounded.format(whole=True)} (to the nearest "
        f"{formula.money(formula.round_to_pence).format(whole=True)})."
    )
    if rounded != amount:
        limit = "minimum" if amount.pence == formula.minimum_pence else "maximum"
        steps += f" That is outside the range, so we suggest the {limit}, {amount.format(whole=True)}."
    return Suggestion(amount, f"{steps} {bounds} {choose}", council_type, population, weight, steps)


def suggest(campaign: Campaign, organisation: Organisation) -> Suggestion:
    """The fair-share suggestion for `organisation` on `campaign`, with its explanation."""
    return explain(formula_for(campaign), organisation.name, _type_of(organisation), organisation.population)


@dataclass(frozen=True)
class Example:
    council_type: CouncilType
    weight: int
    reason: str
    population: int
    suggestion: Suggestion


def examples(campaign: Campaign) -> list[Example]:
    """One worked example per council type at a typical population, for the published page."""
    formula = formula_for(campaign)
    rows = []
    for council_type, population in EXAMPLE_POPULATIONS.items():
        rows.append(
            Example(
                council_type=council_type,
                weight=formula.weights[council_type],
                reason=WEIGHT_REASONS[council_type],
                population=population,
                suggestion=explain(formula, None, council_type, population),
            )
        )
    return rows
