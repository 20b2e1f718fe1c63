"""The offline validator itself catches what it must: a test of the tests' instrument."""

from tests.opendata.schema import errors


def _grant(**changes: object) -> dict[str, object]:
    grant: dict[str, object] = {
        "id": "360G-example-1",
        "title": "A grant",
        "description": "For testing",
        "currency": "GBP",
        "amountAwarded": 100,
        "awardDate": "2026-11-23",
        "fundingOrganization": [{"id": "GB-LAE-ADU", "name": "Adur District Council"}],
        "recipientOrganization": [{"id": "360G-example-org", "name": "LocalGov Digital"}],
    }
    grant.update(changes)
    return grant


def test_a_correct_grant_passes_and_a_plain_date_is_not_ambiguous() -> None:
    assert errors({"grants": [_grant()]}) == []


def test_missing_and_malformed_fields_fail() -> None:
    no_funder = _grant()
    del no_funder["fundingOrganization"]
    assert errors({"grants": [no_funder]})
    assert errors({"grants": [_grant(awardDate="23/11/2026")]})
    assert errors({"grants": [_grant(amountAwarded="100")]})
    assert errors({"grants": []})  # a package holds at least one grant
