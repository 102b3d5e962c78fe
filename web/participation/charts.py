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


def ranked_bars(items: Sequence[tuple[str, int, bool]], *, chart_id: str, title: str, description: str) -> Markup:
    """One horizontal bar per item (label, value, highlighted), longest first as given: a budget's
    votes per project, the selected ones highlighted. Each bar is labelled with its text and value."""
    row, label_width, width = 22, 180, 480
    height = max(len(items), 1) * row + 2 * PAD
    peak = max((value for _label, value, _mark in items), default=0)
    scale = (width - label_width - 60) / peak if peak > 0 else 0.0
    bars = []
    for index, (label, value, highlighted) in enumerate(items):
        y = PAD + index * row
        short = label if len(label) <= 28 else label[:27] + "…"
        kind = "chart-bar chart-bar-selected" if highlighted else "chart-bar"
        bars.append(
            f'<text x="0" y="{y + 15}">{escape(short)}</text>'
            f'<rect class="{kind}" x="{label_width}" y="{y + 3}" width="{value * scale:.2f}" height="{row - 6}">'
            f"<title>{escape(label)}: {int(value)}</title></rect>"
            f'<text x="{label_width + value * scale + 4:.2f}" y="{y + 15}">{int(value)}</text>'
        )
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-ranked" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" focusable="false">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>{"".join(bars)}</svg>'
    )


def _figure_frame(kind: str, chart_id: str, title: str, description: str, width: int, height: int,
                  body: str) -> Markup:
    """The <svg> shell of a chart with texts in it: its own proportions (texts are not stretched)."""
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" focusable="false">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>{body}</svg>'
    )


def _short(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[:limit - 1] + "…"


def distribution(items: Sequence[tuple[str, int]], *, chart_id: str, title: str, description: str) -> Markup:
    """One vertical bar per value of a scale (value, count), in the scale's order: each bar with its
    count above and its value below."""
    width, top, bottom, plot = 480, 18, 20, 120
    height = top + plot + bottom
    step = width / max(len(items), 1)
    peak = max((count for _value, count in items), default=0)
    scale = plot / peak if peak > 0 else 0.0
    bars = [f'<line class="chart-axis" x1="0" y1="{top + plot}" x2="{width}" y2="{top + plot}"/>']
    for index, (value, count) in enumerate(items):
        bar_height = count * scale
        x, middle = index * step + 2, index * step + step / 2
        bars.append(
            f'<rect class="chart-bar" x="{x:.2f}" y="{top + plot - bar_height:.2f}" width="{max(step - 4, 1):.2f}" '
            f'height="{bar_height:.2f}"><title>{escape(value)}: {int(count)}</title></rect>'
            f'<text class="chart-value" x="{middle:.2f}" y="{top + plot - bar_height - 4:.2f}" '
            f'text-anchor="middle">{int(count)}</text>'
            f'<text class="chart-label" x="{middle:.2f}" y="{height - 5}" text-anchor="middle">{escape(_short(str(value), 12))}</text>'
        )
    return _figure_frame("distribution", chart_id, title, description, width, height, "".join(bars))


SEGMENT_CLASSES = 6  # chart-seg-0 … chart-seg-5 (their colours and patterns in questionnaires.css)


def stacked_rows(rows: Sequence[tuple[str, Sequence[int]]], columns: Sequence[str], *, chart_id: str,
                 title: str, description: str) -> Markup:
    """A matrix's answers: one horizontal bar per row, split by column (row label, counts in the
    columns' order), each part as wide as its share of the row; a legend names the columns."""
    row, label_width, width = 24, 180, 480
    plot = width - label_width - 4
    legend_top = len(rows) * row + 2 * PAD + 6
    height = legend_top + 18 * ((len(columns) + 2) // 3) + 4
    parts = []
    for index, (label, counts) in enumerate(rows):
        y = PAD + index * row
        total = sum(counts)
        parts.append(f'<text class="chart-label" x="0" y="{y + 16}">{escape(_short(label))}</text>')
        x = float(label_width)
        for column, count in enumerate(counts):
            share = plot * count / total if total else 0.0
            name = columns[column] if column < len(columns) else str(column)
            parts.append(
                f'<rect class="chart-seg chart-seg-{column % SEGMENT_CLASSES}" x="{x:.2f}" y="{y + 3}" '
                f'width="{share:.2f}" height="{row - 6}"><title>{escape(label)} — {escape(name)}: {int(count)}'
                f"</title></rect>")
            if count and share >= 18:
                parts.append(f'<text class="chart-value chart-on-seg" x="{x + share / 2:.2f}" y="{y + 16}" '
                             f'text-anchor="middle">{int(count)}</text>')
            x += share
    for column, name in enumerate(columns):
        x, y = (column % 3) * (width / 3), legend_top + 18 * (column // 3)
        parts.append(f'<rect class="chart-seg chart-seg-{column % SEGMENT_CLASSES}" x="{x:.2f}" y="{y}" '
                     f'width="12" height="12"/><text class="chart-label" x="{x + 16:.2f}" y="{y + 11}">'
                     f'{escape(_short(name, 22))}</text>')
    return _figure_frame("stacked", chart_id, title, description, width, height, "".join(parts))
