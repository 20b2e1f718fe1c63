"""Reading and writing match ratios: "£1 for every £1" and friends, in whole numbers only."""

from __future__ import annotations

import pytest

from app.matching.match_funding import MatchError, format_ratio, parse_ratio, percent


@pytest.mark.parametrize(
    ("typed", "ratio_bp"),
    [
        ("1", 10_000),
        ("0.5", 5_000),
        ("0.50", 5_000),
        ("2", 20_000),
        ("£1", 10_000),
        (" £ 1.50 ", 15_000),
        ("50p", 5_000),
        ("1p", 100),
        ("12.5p", 1_250),
        ("0.125", 1_250),
        ("0.005", 50),
        ("10", 100_000),
        ("£1 for every £1", 10_000),
        ("£1 for every £1 pledged", 10_000),
        ("£1 for every £2", 5_000),
        ("50p for every £1", 5_000),
        ("1:1", 10_000),
        ("2:1", 20_000),
        ("1:8", 1_250),
        ("£3 per £4", 7_500),
        ("0.500", 5_000),  # trailing zeros are not fractions of a penny
        (1, 10_000),
        (2, 20_000),
        (0.5, 5_000),  # read from its decimal form, not by float arithmetic
    ],
)
def test_ratios_people_type_become_basis_points(typed: str | int | float, ratio_bp: int) -> None:
    assert parse_ratio(typed) == ratio_bp


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter the ratio"),
        ("0", "Enter a ratio greater than zero"),
        ("0.00", "Enter a ratio greater than zero"),
        ("£0 for every £1", "Enter a ratio greater than zero"),
        ("-1", "Enter a ratio greater than zero"),
        ("10.01", "at most £10 for every £1"),
        ("1000000", "at most £10 for every £1"),
        ("11:1", "at most £10 for every £1"),
        ("0.00005", "at most 4 decimal places"),
        ("1.5p.", "Enter the ratio as an amount for every £1"),
        ("1:3", "whole number of hundredths of a penny"),
        ("£1 for every £0", "must be more than zero"),
        ("one pound", "Enter the ratio as an amount for every £1"),
        ("<b>1</b>", "Enter the ratio as an amount for every £1"),
        ("1e3", "Enter the ratio as an amount for every £1"),
        ("x" * 10_000, "Enter the ratio as an amount for every £1"),
        (0, "Enter a ratio greater than zero"),
        (True, "Enter the ratio"),
        (float("nan"), "Enter the ratio as an amount for every £1"),
    ],
)
def test_nonsense_ratios_are_refused_with_a_clear_message(typed: object, message: str) -> None:
    with pytest.raises(MatchError, match=message) as refused:
        parse_ratio(typed)  # type: ignore[arg-type]
    assert refused.value.field == "ratio"


@pytest.mark.parametrize(
    ("ratio_bp", "text"),
    [
        (10_000, "£1 for every £1"),
        (5_000, "50p for every £1"),
        (20_000, "£2 for every £1"),
        (15_000, "£1.50 for every £1"),
        (1_250, "12.5p for every £1"),
        (100, "1p for every £1"),
        (100_000, "£10 for every £1"),
    ],
)
def test_ratios_read_as_people_say_them(ratio_bp: int, text: str) -> None:
    assert format_ratio(ratio_bp) == text
    assert parse_ratio(text) == ratio_bp


def test_share_percentages() -> None:
    assert [percent(bp) for bp in (2500, 1250, 10_000, 3333)] == ["25%", "12.5%", "100%", "33.33%"]
