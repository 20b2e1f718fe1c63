"""The fair-share suggestion: published, explained, configurable per campaign, never binding."""

from __future__ import annotations

import pytest

from app.campaigns import fair_share
from app.campaigns.fair_share import FairShareConfigError, Formula
from app.models import CouncilType
from app.money import Money
from tests.factories import CampaignFactory, OrganisationFactory
from tests.helpers import PageClient


@pytest.mark.parametrize(
    ("council_type", "population", "pounds"),
    [
        # population × 1p × weight, to the nearest £50, between £100 and £10,000
        (CouncilType.COUNTY, 750_000, 7_500),
        (CouncilType.UNITARY, 250_000, 2_500),
        (CouncilType.METROPOLITAN, 312_400, 3_100),  # £3,124 rounds down to £3,100
        (CouncilType.LONDON_BOROUGH, 327_500, 3_300),  # £3,275 is a half: rounds up
        (CouncilType.DISTRICT, 100_000, 400),  # 40%: shares its residents with the county
        (CouncilType.DISTRICT, 93_700, 350),  # £374.80 → £350
        (CouncilType.COMBINED_AUTHORITY, 2_800_000, 7_000),  # 25%
        (CouncilType.TOWN_PARISH, 12_000, 100),  # £6 → the minimum
        (CouncilType.COUNTY, 1_500_000, 10_000),  # £15,000 → the maximum
        (CouncilType.OTHER, 100_000, 500),
    ],
)
def test_default_formula_examples(council_type: CouncilType, population: int, pounds: int) -> None:
    campaign = CampaignFactory()
    council = OrganisationFactory(council_type=council_type, population=population, name="Anyshire Council")

    suggestion = fair_share.suggest(campaign, council)

    assert suggestion.amount == Money(pounds * 100)


def test_the_explanation_shows_the_working_in_plain_english() -> None:
    campaign = CampaignFactory()
    council = OrganisationFactory(
        name="Wyre Forest District Council", council_type=CouncilType.DISTRICT, population=101_000
    )

    suggestion = fair_share.suggest(campaign, council)

    assert suggestion.amount == Money(400_00)
    assert suggestion.explanation == (
        "For Wyre Forest District Council (a district council, 101,000 residents): 101,000 × 1p per resident × 40% "
        "= £404.00, which rounds to £400 (to the nearest £50). Suggestions are kept between £100 and £10,000. "
        "This is only a suggestion: any amount is welcome."
    )


def test_clamped_suggestions_say_so() -> None:
    campaign = CampaignFactory()
    parish = OrganisationFactory(council_type=CouncilType.TOWN_PARISH, population=4_000)
    assert "outside the range, so we suggest the minimum, £100" in fair_share.suggest(campaign, parish).explanation
    county = OrganisationFactory(council_type=CouncilType.COUNTY, population=1_400_000)
    assert "outside the range, so we suggest the maximum, £10,000" in fair_share.suggest(campaign, county).explanation


def test_without_a_population_the_minimum_is_suggested_and_explained() -> None:
    campaign = CampaignFactory()
    council = OrganisationFactory(name="Nowhere Town Council", council_type=CouncilType.TOWN_PARISH, population=None)

    suggestion = fair_share.suggest(campaign, council)

    assert suggestion.amount == Money(100_00)
    assert "We do not have a population figure for Nowhere Town Council" in suggestion.explanation


def test_a_campaign_can_set_its_own_figures() -> None:
    campaign = CampaignFactory(
        fair_share={
            "pence_per_resident": 2,
            "weights": {"district": 50},
            "minimum_pence": 25_000,
            "round_to_pence": 10_000,
        }
    )
    district = OrganisationFactory(council_type=CouncilType.DISTRICT, population=123_456)
    unitary = OrganisationFactory(council_type=CouncilType.UNITARY, population=200_000)

    # 123,456 × 2p × 50% = £1,234.56 → nearest £100 = £1,200
    assert fair_share.suggest(campaign, district).amount == Money(1_200_00)
    # 200,000 × 2p × 100% = £4,000 (unitary keeps its default weight)
    assert fair_share.suggest(campaign, unitary).amount == Money(4_000_00)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"pence_per_resident": 0}, "pence_per_resident must be a whole number"),
        ({"pence_per_resident": 1.5}, "pence_per_resident must be a whole number"),
        ({"weights": {"village": 10}}, "'village' is not a council type"),
        ({"weights": {"district": -1}}, "district must be a whole percentage"),
        ({"minimum_pence": 50_000, "maximum_pence": 10_000}, "minimum_pence must not be more than maximum_pence"),
        ({"surprise": 1}, "Unknown fair-share settings: surprise"),
    ],
)
def test_unusable_settings_are_refused_with_a_reason(config: dict[str, object], message: str) -> None:
    with pytest.raises(FairShareConfigError, match=message):
        Formula.from_config(config)


def test_no_setting_means_the_documented_defaults() -> None:
    formula = Formula.from_config(None)
    assert formula.is_default
    assert (formula.pence_per_resident, formula.minimum_pence, formula.maximum_pence, formula.round_to_pence) == (
        1,
        100_00,
        10_000_00,
        50_00,
    )
    assert formula.weights[CouncilType.DISTRICT] < formula.weights[CouncilType.COUNTY]
    assert formula.weights[CouncilType.TOWN_PARISH] == min(formula.weights.values())


def test_the_published_page_explains_the_formula_with_examples_by_type(page: PageClient) -> None:
    campaign = CampaignFactory(title="Pipeline community manager")

    html = page.get(f"/campaigns/{campaign.slug}/fair-share").get_data(as_text=True)

    assert "residents × 1p per resident × the weight for the council's type" in html
    assert "rounded to the nearest £50" in html and "between £100 and £10,000" in html
    assert "A council can pledge any amount" in html
    for council_type in CouncilType:
        assert f'data-council-type="{council_type.value}"' in html
    assert 'data-figure="suggested-county">£7,500<' in html
    assert 'data-figure="suggested-district">£400<' in html
    assert "Shares its residents with the county council above it" in html


def test_the_campaign_page_links_to_the_formula(page: PageClient) -> None:
    campaign = CampaignFactory()
    html = page.get(f"/campaigns/{campaign.slug}").get_data(as_text=True)
    assert f'href="/campaigns/{campaign.slug}/fair-share"' in html


def test_no_formula_page_for_a_draft_or_unknown_campaign(page: PageClient) -> None:
    draft = CampaignFactory(status="draft")
    page.get(f"/campaigns/{draft.slug}/fair-share", status=404)
    page.get("/campaigns/no-such-campaign/fair-share", status=404)
