"""Money as whole minor units (pence) with its currency. No floats anywhere near money.

`Money.parse("£2,500.50")` gives 250050 pence; `str(Money(250050))` gives "£2,500.50".
Adding or comparing amounts in different currencies raises `CurrencyMismatch`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import total_ordering

SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}
SUPPORTED_CURRENCIES = frozenset(SYMBOLS)

# The most anyone may type as one amount. Amount columns are 32-bit integers of pence (at most
# £21,474,836.47), so a larger amount could never be stored; nothing in the service comes near it.
MAX_TYPED_PENCE = 10_000_000_00

_AMOUNT = re.compile(r"^(?P<pounds>\d{1,3}(?:,\d{3})+|\d+)?(?:\.(?P<pence>\d{1,2}))?$", re.ASCII)


class MoneyError(ValueError):
    """An amount that cannot be understood; the message is fit to show a person."""


class CurrencyMismatch(TypeError):
    """Two amounts in different currencies were combined."""


@total_ordering
@dataclass(frozen=True, slots=True)
class Money:
    pence: int
    currency: str = "GBP"

    def __post_init__(self) -> None:
        if isinstance(self.pence, bool) or not isinstance(self.pence, int):
            raise TypeError("Money holds a whole number of pence, never a float or a string.")
        if self.currency not in SUPPORTED_CURRENCIES:
            raise MoneyError(f"Unsupported currency {self.currency!r}.")

    @classmethod
    def zero(cls, currency: str = "GBP") -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, currency: str = "GBP") -> Money:
        """Read an amount typed by a person: "2500", "2,500.50", "£2,500", " £ 10.5 ".

        Refuses negative amounts, fractions of a penny, letters, misplaced commas and amounts over
        £10,000,000 (MAX_TYPED_PENCE).
        """
        if not isinstance(text, str):
            raise MoneyError("Enter the amount in pounds, like 2500 or 2500.50.")
        cleaned = text.strip().replace(" ", "")
        if len(cleaned) > 24:  # longer than any amount we could take; also keeps int() cheap
            raise MoneyError("Enter the amount in pounds, like 2500 or 2500.50.")
        symbol = SYMBOLS[currency]
        if cleaned.startswith(symbol):
            cleaned = cleaned[len(symbol) :]
        if cleaned.startswith("-"):
            raise MoneyError("Enter an amount greater than zero.")
        match = _AMOUNT.match(cleaned)
        if not cleaned or match is None or not (match["pounds"] or match["pence"]):
            if re.fullmatch(r"\d*\.\d{3,}", cleaned.replace(",", ""), re.ASCII):
                raise MoneyError("Enter the amount in pounds and pence, like 10.50 (no fractions of a penny).")
            raise MoneyError("Enter the amount in pounds, like 2500 or 2500.50.")
        pounds = int((match["pounds"] or "0").replace(",", ""))
        pence = int((match["pence"] or "0").ljust(2, "0"))
        if pounds * 100 + pence > MAX_TYPED_PENCE:
            raise MoneyError(f"Enter an amount of {cls(MAX_TYPED_PENCE, currency).format(whole=True)} or less.")
        return cls(pounds * 100 + pence, currency)

    def _check(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"Cannot combine Money with {type(other).__name__}.")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"Cannot combine {self.currency} with {other.currency}.")
        return other

    def __add__(self, other: object) -> Money:
        return Money(self.pence + self._check(other).pence, self.currency)

    def __sub__(self, other: object) -> Money:
        return Money(self.pence - self._check(other).pence, self.currency)

    def __mul__(self, times: int) -> Money:
        if isinstance(times, bool) or not isinstance(times, int):
            raise TypeError("Money can only be multiplied by a whole number.")
        return Money(self.pence * times, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: object) -> bool:
        return self.pence < self._check(other).pence

    def __bool__(self) -> bool:
        return self.pence != 0

    def format(self, *, whole: bool = False) -> str:
        """ "£2,500.50"; with `whole=True` drop ".00" from round amounts ("£2,500")."""
        sign = "-" if self.pence < 0 else ""
        pounds, pence = divmod(abs(self.pence), 100)
        text = f"{sign}{SYMBOLS[self.currency]}{pounds:,}"
        if whole and pence == 0:
            return text
        return f"{text}.{pence:02d}"

    def __str__(self) -> str:
        return self.format()


def format_pence(pence: int | None, currency: str = "GBP", *, whole: bool = False) -> str:
    """Template helper: format a stored integer amount."""
    return Money(int(pence or 0), currency).format(whole=whole)


_FINANCIAL_YEAR = re.compile(r"^\s*(?:FY\s*)?(\d{4})\s*[-/]\s*(\d{2}|\d{4})\s*$", re.ASCII | re.IGNORECASE)


def parse_financial_year(text: str) -> tuple[date, date]:
    """A UK financial year written "2027-28", "2027/28" or "2027-2028": 1 April 2027 to 31 March 2028.

    Raises ValueError with a message fit to show the person who typed it.
    """
    match = _FINANCIAL_YEAR.match(text or "")
    if not match:
        raise ValueError("Enter the funding period as a financial year, like 2027-28")
    first, second = int(match[1]), int(match[2])
    if second != (first + 1) % (100 if len(match[2]) == 2 else 10_000) or not 2000 <= first <= 2100:
        raise ValueError(f"{text.strip()} is not a financial year: try {first}-{(first + 1) % 100:02d}")
    return date(first, 4, 1), date(first + 1, 3, 31)


def financial_year_label(starts_on: date) -> str:
    """ "2027-28" for the financial year starting in April 2027 (the form people type it in)."""
    first = starts_on.year if starts_on >= date(starts_on.year, 4, 1) else starts_on.year - 1
    return f"{first}-{(first + 1) % 100:02d}"
