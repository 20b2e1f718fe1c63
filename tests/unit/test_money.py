import pytest

from app.money import CurrencyMismatch, Money, MoneyError


@pytest.mark.parametrize(
    ("text", "pence"),
    [
        ("2500", 250000),
        ("2,500.50", 250050),
        ("£2,500", 250000),
        (" £ 10.5 ", 1050),
        ("0.01", 1),
        (".5", 50),
        ("1,000,000", 100000000),
    ],
)
def test_parses_amounts_people_type(text: str, pence: int) -> None:
    assert Money.parse(text).pence == pence


@pytest.mark.parametrize("text", ["", "abc", "-5", "10.005", "1,00", "12,34.5", "£", "1e3", "10.5.5", "NaN", "٣"])
def test_refuses_what_is_not_an_amount(text: str) -> None:
    with pytest.raises(MoneyError):
        Money.parse(text)


def test_fraction_of_a_penny_gets_its_own_message() -> None:
    with pytest.raises(MoneyError, match="fractions of a penny"):
        Money.parse("10.005")


@pytest.mark.parametrize(
    ("pence", "text"),
    [(250050, "£2,500.50"), (5, "£0.05"), (0, "£0.00"), (-1234, "-£12.34"), (100000000, "£1,000,000.00")],
)
def test_formats_like_a_uk_price(pence: int, text: str) -> None:
    assert str(Money(pence)) == text


def test_whole_pounds_can_drop_the_pence() -> None:
    assert Money(4800000).format(whole=True) == "£48,000"
    assert Money(4800050).format(whole=True) == "£48,000.50"


def test_refuses_to_mix_currencies() -> None:
    with pytest.raises(CurrencyMismatch):
        Money(100, "GBP") + Money(100, "EUR")
    with pytest.raises(CurrencyMismatch):
        _ = Money(100, "GBP") < Money(100, "EUR")


def test_never_holds_a_float() -> None:
    with pytest.raises(TypeError):
        Money(10.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(100) * 1.5  # type: ignore[operator]


def test_arithmetic_keeps_currency() -> None:
    assert Money(150) + Money(50) == Money(200)
    assert (Money(300, "EUR") - Money(100, "EUR")).currency == "EUR"
    assert Money(5000) * 12 == Money(60000)


def test_a_huge_number_is_refused_plainly() -> None:
    with pytest.raises(MoneyError):
        Money.parse("9" * 10_240)


@pytest.mark.parametrize("text", ["10,000,000.01", "£100,000,001", "21474837", "9" * 20])
def test_an_amount_no_column_could_hold_is_refused_plainly(text: str) -> None:
    with pytest.raises(MoneyError, match=r"Enter an amount of £10,000,000 or less"):
        Money.parse(text)
    assert Money.parse("10,000,000").pence == 10_000_000_00
