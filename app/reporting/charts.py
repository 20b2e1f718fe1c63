"""Charts as plain coordinates, drawn as SVG by the macros in `templates/macros/charts.html`.

The same macros draw the charts on the treasurer's pages and in PDF reports, so everything here
is plain data in, plain numbers and strings out: no request, no database, no randomness. The
output is deterministic (coordinates rounded to one decimal place, series in the order given),
so a chart can be compared byte for byte and cached.

Money stays in whole pence; only the drawing coordinates are floats.

Every chart carries its own text alternative: a title, a one-sentence description and a table of
the numbers it shows, which the macros put beside the picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from app.money import format_pence

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# Solid colours that keep at least 3:1 against white (WCAG 1.4.11) and differ for colour-blind
# readers; each series is also labelled in words, so colour is never the only clue.
COLOURS = {
    "pledged": "#00625e",  # Pledgeline teal
    "collected": "#4c2c92",  # purple
    "matched": "#b54d00",  # dark orange
    "target": "#d4351c",  # red
}
INK = "#0b0c0c"
AXIS = "#505a5f"
GRID = "#b1b4b6"


def _n(value: float) -> str:
    """A coordinate as text: one decimal place, no trailing ".0" noise, never "-0"."""
    text = f"{value:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


def money_label(pence: int, currency: str = "GBP") -> str:
    """An axis or bar label: whole pounds where the amount is round ("£48,000"), else pence too."""
    return format_pence(pence, currency, whole=True)


def nice_scale(largest: int, *, max_ticks: int = 5) -> tuple[int, int]:
    """(step, top) for a money axis from 0 to at least `largest` pence, in at most `max_ticks` steps.

    Steps are 1, 2 or 5 × a power of ten pounds, so ticks read "£10,000", "£20,000" … The top is
    the first whole step at or above `largest`.
    """
    largest = max(largest, 100)
    exponent = 2  # £1
    while True:
        for multiple in (1, 2, 5):
            step = multiple * 10**exponent
            steps = -(-largest // step)
            if steps <= max_ticks:
                return step, steps * step
        exponent += 1


@dataclass(frozen=True)
class Box:
    """The plotting area inside the chart, in whole SVG user units."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


@dataclass(frozen=True)
class Tick:
    position: str  # an x or y coordinate on the axis
    label: str
    label_x: str
    label_y: str


@dataclass(frozen=True)
class TextTable:
    """The numbers behind a chart, for people who cannot see it (and anyone who wants them)."""

    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]  # which columns are numbers (right-aligned)


@dataclass(frozen=True)
class LegendItem:
    label: str
    colour: str
    x: str  # where the sample starts (a 16-unit square, or a 24-unit line)
    y: str  # the sample's top (a square) or middle (a line)
    x_end: str  # where a line sample ends
    text_x: str
    text_y: str
    line: bool = False  # drawn as a line sample rather than a square
    dashed: bool = False


def _legend(index: int, left: int, label: str, colour: str, *, line: bool = False, dashed: bool = False) -> LegendItem:
    """Legend entries in a row above the plot, 150 units apart."""
    x = left + index * 150
    return LegendItem(
        label,
        colour,
        _n(x),
        "14" if line else "6",
        _n(x + 24),
        _n(x + (30 if line else 22)),
        "19",
        line=line,
        dashed=dashed,
    )


@dataclass(frozen=True)
class Line:
    label: str
    colour: str
    points: str  # "x,y x,y …" for an SVG <polyline>
    width: int
    dashed: bool
    end_x: str
    end_y: str
    end_label: str


@dataclass(frozen=True)
class LineChart:
    id: str
    title: str
    description: str
    width: int
    height: int
    plot: Box
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    lines: tuple[Line, ...]
    legend: tuple[LegendItem, ...]
    table: TextTable
    kind: str = "line"


@dataclass(frozen=True)
class Bar:
    x: str
    y: str
    width: str
    height: str
    colour: str
    label: str  # the value in words, drawn beside the bar
    label_x: str
    label_y: str
    label_anchor: str  # "start" | "middle"


@dataclass(frozen=True)
class BarGroup:
    label: str
    label_x: str
    label_y: str
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    description: str
    width: int
    height: int
    plot: Box
    horizontal: bool
    ticks: tuple[Tick, ...]  # along the value axis
    groups: tuple[BarGroup, ...]
    legend: tuple[LegendItem, ...]
    table: TextTable
    kind: str = "bar"
    value_labels: bool = True


@dataclass(frozen=True)
class Series:
    """One named sequence of values, with the colour it is drawn in (a key of COLOURS)."""

    label: str
    colour: str
    values: Sequence[int] = field(default_factory=tuple)


# --- Cumulative money over time --------------------------------------------------------------


def cumulative(changes: Sequence[tuple[date, int]]) -> list[tuple[date, int]]:
    """Running totals from (day, amount) changes: one point per day, in day order."""
    by_day: dict[date, int] = {}
    for day, amount in changes:
        by_day[day] = by_day.get(day, 0) + amount
    total = 0
    points = []
    for day in sorted(by_day):
        total += by_day[day]
        points.append((day, total))
    return points


def _value_on(points: Sequence[tuple[date, int]], day: date) -> int:
    """A running total as it stood at the end of `day`."""
    value = 0
    for point_day, total in points:
        if point_day > day:
            break
        value = total
    return value


def _month_ticks(start: date, end: date) -> list[tuple[date, str]]:
    """The first of each month in the range (at most eight of them), or evenly spaced days in a short range."""
    firsts = []
    year, month = start.year, start.month
    while True:
        month += 1
        if month == 13:
            year, month = year + 1, 1
        first = date(year, month, 1)
        if first > end:
            break
        firsts.append(first)
    if len(firsts) < 2:
        # A short range: up to six days spread evenly from the first to the last.
        span = (end - start).days
        count = min(5, span)
        days = sorted({start + timedelta(days=span * i // count) for i in range(count + 1)}) if count else [start]
        return [(day, f"{day.day} {MONTHS[day.month - 1]}") for day in days]
    every = -(-len(firsts) // 8)
    return [(day, f"{MONTHS[day.month - 1]} {day.year}") for day in firsts[::every]]


def _month_ends(start: date, end: date) -> list[date]:
    """The last day of each month from `start` to `end`, and `end` itself."""
    days = []
    year, month = start.year, start.month
    while True:
        next_first = date(year + month // 12, month % 12 + 1, 1)
        last = next_first - timedelta(days=1)
        if last >= end:
            break
        days.append(last)
        year, month = next_first.year, next_first.month
    days.append(end)
    return days


def line_chart(
    chart_id: str,
    *,
    title: str,
    description: str,
    series: Sequence[tuple[str, str, Sequence[tuple[date, int]]]],
    start: date,
    end: date,
    target_pence: int | None = None,
    currency: str = "GBP",
    width: int = 720,
    height: int = 340,
) -> LineChart:
    """Running totals drawn as steps from `start` to `end` (inclusive), with an optional target line.

    `series` is (label, colour key, points) where points are (day, running total at the end of
    that day) in day order, as `cumulative` makes them. Each line ends with its label and value.
    """
    end = max(end, start)
    plot = Box(left=88, top=44, right=width - 128, bottom=height - 40)
    largest = max([target_pence or 0] + [total for _, _, points in series for _, total in points])
    step, top = nice_scale(largest)
    span = (end - start).days + 1

    def x(day: date) -> float:
        return plot.left + plot.width * min(max((day - start).days, 0), span) / span

    def y(pence: int) -> float:
        return plot.bottom - plot.height * pence / top

    y_ticks = tuple(
        Tick(_n(y(value)), money_label(value, currency), _n(plot.left - 8), _n(y(value) + 5))
        for value in range(0, top + 1, step)
    )
    x_ticks = tuple(
        Tick(_n(x(day)), label, _n(x(day)), _n(plot.bottom + 22)) for day, label in _month_ticks(start, end)
    )

    lines = []
    legend = []
    for index, (label, colour_key, points) in enumerate(series):
        colour = COLOURS[colour_key]
        shown = [(day, total) for day, total in points if start <= day <= end]
        before = _value_on([p for p in points if p[0] < start], start)
        coordinates = [(x(start), y(before))]
        previous = before
        for day, total in shown:
            coordinates.append((x(day), y(previous)))
            coordinates.append((x(day), y(total)))
            previous = total
        coordinates.append((plot.right, y(previous)))
        # Drop repeated points so the output is as small as it can be and still identical each time.
        compact = [c for i, c in enumerate(coordinates) if i == 0 or c != coordinates[i - 1]]
        lines.append(
            Line(
                label=label,
                colour=colour,
                points=" ".join(f"{_n(px)},{_n(py)}" for px, py in compact),
                width=3,
                dashed=False,
                end_x=_n(plot.right + 8),
                end_y=_n(y(previous) + 5),
                end_label=f"{label} {money_label(previous, currency)}",
            )
        )
        legend.append(_legend(index, plot.left, label, colour, line=True))
    if target_pence:
        lines.append(
            Line(
                label="Target",
                colour=COLOURS["target"],
                points=f"{_n(plot.left)},{_n(y(target_pence))} {_n(plot.right)},{_n(y(target_pence))}",
                width=2,
                dashed=True,
                end_x=_n(plot.right + 8),
                end_y=_n(y(target_pence) + 5),
                end_label=f"Target {money_label(target_pence, currency)}",
            )
        )
        legend.append(_legend(len(series), plot.left, "Target", COLOURS["target"], line=True, dashed=True))
    _separate_end_labels(lines)

    rows = []
    for day in _month_ends(start, end):
        rows.append(
            (
                f"{day.day} {MONTH_NAMES[day.month - 1]} {day.year}",
                *(format_pence(_value_on(points, day), currency) for _, _, points in series),
            )
        )
    table = TextTable(
        caption=f"{title}: running totals at the end of each month",
        headers=("At the end of", *(label for label, _, _ in series)),
        rows=tuple(rows),
        numeric=(False,) + (True,) * len(series),
    )
    return LineChart(
        id=chart_id,
        title=title,
        description=description,
        width=width,
        height=height,
        plot=plot,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        lines=tuple(lines),
        legend=tuple(legend),
        table=table,
    )


def _separate_end_labels(lines: list[Line], gap: float = 16) -> None:
    """Move the labels at the lines' right-hand ends apart so none overlaps another."""
    order = sorted(range(len(lines)), key=lambda i: (float(lines[i].end_y), i))
    previous: float | None = None
    for i in order:
        label_y = float(lines[i].end_y)
        if previous is not None and label_y < previous + gap:
            label_y = previous + gap
            lines[i] = replace(lines[i], end_y=_n(label_y))
        previous = label_y


# --- Bars ------------------------------------------------------------------------------------


def bar_chart(
    chart_id: str,
    *,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[Series],
    currency: str = "GBP",
    width: int = 720,
) -> BarChart:
    """Horizontal bars: one group per category, one bar per series, each labelled with its value."""
    bar_height, bar_gap, group_gap = 22, 4, 22
    group_height = len(series) * bar_height + (len(series) - 1) * bar_gap
    top_margin = 44
    height = top_margin + len(categories) * (group_height + group_gap) + 30
    plot = Box(left=120, top=top_margin, right=width - 150, bottom=height - 30)
    largest = max([0] + [value for s in series for value in s.values])
    step, top = nice_scale(largest, max_ticks=4)

    def x(pence: int) -> float:
        return plot.left + plot.width * pence / top

    ticks = tuple(
        Tick(_n(x(value)), money_label(value, currency), _n(x(value)), _n(plot.bottom + 20))
        for value in range(0, top + 1, step)
    )
    groups = []
    for index, category in enumerate(categories):
        group_top = plot.top + index * (group_height + group_gap) + group_gap / 2
        bars = []
        for position, s in enumerate(series):
            value = s.values[index]
            bar_top = group_top + position * (bar_height + bar_gap)
            bars.append(
                Bar(
                    x=_n(plot.left),
                    y=_n(bar_top),
                    width=_n(x(value) - plot.left),
                    height=_n(bar_height),
                    colour=COLOURS[s.colour],
                    label=f"{s.label} {format_pence(value, currency)}",
                    label_x=_n(x(value) + 6),
                    label_y=_n(bar_top + bar_height / 2 + 5),
                    label_anchor="start",
                )
            )
        groups.append(BarGroup(category, _n(plot.left - 10), _n(group_top + group_height / 2 + 5), tuple(bars)))
    legend = tuple(_legend(i, plot.left, s.label, COLOURS[s.colour]) for i, s in enumerate(series))
    table = TextTable(
        caption=title,
        headers=("", *(s.label for s in series)),
        rows=tuple(
            (category, *(format_pence(s.values[i], currency) for s in series)) for i, category in enumerate(categories)
        ),
        numeric=(False,) + (True,) * len(series),
    )
    return BarChart(
        id=chart_id,
        title=title,
        description=description,
        width=width,
        height=height,
        plot=plot,
        horizontal=True,
        ticks=ticks,
        groups=tuple(groups),
        legend=legend,
        table=table,
    )


def column_chart(
    chart_id: str,
    *,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Series,
    table_categories: Sequence[str] | None = None,
    currency: str = "GBP",
    width: int = 720,
    height: int = 300,
) -> BarChart:
    """Vertical columns, one per category (months, say), for a single series.

    Each column is labelled with its value when there is room; the table always has every value.
    """
    plot = Box(left=88, top=30, right=width - 16, bottom=height - 40)
    largest = max([0, *series.values])
    step, top = nice_scale(largest)
    slot = plot.width / max(1, len(categories))
    column_width = slot * 0.64
    value_labels = slot >= 44

    def y(pence: int) -> float:
        return plot.bottom - plot.height * pence / top

    ticks = tuple(
        Tick(_n(y(value)), money_label(value, currency), _n(plot.left - 8), _n(y(value) + 5))
        for value in range(0, top + 1, step)
    )
    groups = []
    for index, category in enumerate(categories):
        value = series.values[index]
        left = plot.left + index * slot + (slot - column_width) / 2
        middle = plot.left + index * slot + slot / 2
        bar = Bar(
            x=_n(left),
            y=_n(y(value)),
            width=_n(column_width),
            height=_n(plot.bottom - y(value)),
            colour=COLOURS[series.colour],
            # Rounded to the pound to fit above a column; the table has the exact amount.
            label=money_label((value + 50) // 100 * 100, currency) if value_labels and value else "",
            label_x=_n(middle),
            label_y=_n(y(value) - 6),
            label_anchor="middle",
        )
        groups.append(BarGroup(category, _n(middle), _n(plot.bottom + 22), (bar,)))
    names = table_categories or categories
    table = TextTable(
        caption=title,
        headers=("Month", series.label),
        rows=tuple((names[i], format_pence(series.values[i], currency)) for i in range(len(categories))),
        numeric=(False, True),
    )
    return BarChart(
        id=chart_id,
        title=title,
        description=description,
        width=width,
        height=height,
        plot=plot,
        horizontal=False,
        ticks=ticks,
        groups=tuple(groups),
        legend=(),
        table=table,
        value_labels=value_labels,
    )
