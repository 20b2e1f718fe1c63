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
