"""Instalment schedules: how many instalments a pledge has and when each falls due."""

from __future__ import annotations

from datetime import date

from app.models import Campaign, Frequency


def add_months(start: date, months: int) -> date:
    """The same day `months` later; days past the 28th fall on the 28th so every month has one."""
    month_index = start.month - 1 + months
    return date(start.year + month_index // 12, month_index % 12 + 1, min(start.day, 28))


def periods_in(campaign: Campaign, frequency: Frequency) -> int:
    """How many instalments of this frequency the campaign's funding period holds (at least one)."""
    start, end = campaign.funding_starts_on, campaign.funding_ends_on
    months = (end.year - start.year) * 12 + (end.month - start.month) + (1 if end.day >= start.day else 0)
    months = max(1, months)
    if frequency == Frequency.MONTHLY:
        return months
    if frequency == Frequency.ANNUALLY:
        return max(1, -(-months // 12))
    return 1


def instalment_count_for(campaign: Campaign, frequency: Frequency, requested: int | None) -> int:
    """The number of instalments a pledge commits to: as asked, or the funding period's for "until cancelled"."""
    if frequency == Frequency.ONE_OFF:
        return 1
    return requested if requested is not None else periods_in(campaign, frequency)


def due_dates(first: date, frequency: Frequency, count: int) -> list[date]:
    step = {Frequency.ONE_OFF: 0, Frequency.MONTHLY: 1, Frequency.ANNUALLY: 12}[frequency]
    if step == 0:
        return [first]
    return [add_months(first, step * i) if i else first for i in range(count)]


def financial_year_of(day: date) -> int:
    """The calendar year in which `day`'s UK financial year (1 April – 31 March) begins."""
    return day.year if day >= date(day.year, 4, 1) else day.year - 1


def financial_year_label(day: date) -> str:
    """The financial year holding `day`, written as councils write it: "2027/28"."""
    start = financial_year_of(day)
    return f"{start}/{(start + 1) % 100:02d}"


def financial_year_due_dates(first: date, count: int) -> list[date]:
    """Yearly instalments aligned to financial years: `first`, then 1 April of each following year.

    A council pledging for three years from 28 November 2026 pays then (2026/27), on 1 April 2027
    (2027/28) and on 1 April 2028 (2028/29): each instalment falls in its own financial year.
    """
    start = financial_year_of(first)
    return [first] + [date(start + n, 4, 1) for n in range(1, count)]
