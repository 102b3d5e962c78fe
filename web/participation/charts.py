"""Small server-rendered SVG charts of daily series (bars, sparkline): accessible, no JavaScript."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from markupsafe import Markup, escape

Series = Sequence[tuple[date, int]]

WIDTH = 300
HEIGHT = 64
PAD = 2


def _scale(series: Series) -> float:
    peak = max((value for _day, value in series), default=0)
    return (HEIGHT - 2 * PAD) / peak if peak > 0 else 0.0


def _frame(kind: str, chart_id: str, title: str, description: str, body: str) -> Markup:
    """The <svg> shell: role="img", named by its <title> and described by its <desc>."""
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" preserveAspectRatio="none" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" focusable="false">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>'
        f'<line class="chart-axis" x1="0" y1="{HEIGHT - PAD}" x2="{WIDTH}" y2="{HEIGHT - PAD}"/>'
        f"{body}</svg>"
    )


def bar_chart(series: Series, *, chart_id: str, title: str, description: str) -> Markup:
    """One bar per day; each bar carries its own <title> (day: value) for pointer users."""
    if not series:
        return _frame("bars", chart_id, title, description, "")
    scale = _scale(series)
    step = WIDTH / len(series)
    bar = max(step - 1, 1)
    bars = []
    for index, (day, value) in enumerate(series):
        height = value * scale
        x = index * step
        y = HEIGHT - PAD - height
        bars.append(
            f'<rect class="chart-bar" x="{x:.2f}" y="{y:.2f}" width="{bar:.2f}" '
            f'height="{height:.2f}"><title>{escape(day.isoformat())}: {int(value)}</title></rect>'
        )
    return _frame("bars", chart_id, title, description, "".join(bars))


def sparkline(series: Series, *, chart_id: str, title: str, description: str) -> Markup:
    """A line through the daily values, with a dot on the last day."""
    if not series:
        return _frame("sparkline", chart_id, title, description, "")
    scale = _scale(series)
    step = WIDTH / max(len(series) - 1, 1)
    points = [(index * step, HEIGHT - PAD - value * scale) for index, (_day, value) in enumerate(series)]
    path = " ".join(f"{x:.2f},{y:.2f}" for x, y in points)
    last_x, last_y = points[-1]
    body = (f'<polyline class="chart-line" fill="none" vector-effect="non-scaling-stroke" points="{path}"/>'
            f'<circle class="chart-dot" cx="{last_x:.2f}" cy="{last_y:.2f}" r="3"/>')
    return _frame("sparkline", chart_id, title, description, body)


def describe(series: Series) -> tuple[int, int, date | None]:
    """(total, peak, day of the peak) of a series: the facts a chart's text alternative states."""
    total = sum(value for _day, value in series)
    peak_day, peak = max(series, key=lambda item: item[1], default=(None, 0))
    return total, peak, peak_day if peak else None
