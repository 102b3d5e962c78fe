"""Server-rendered SVG charts and the visit counter: pure functions, no database."""

from __future__ import annotations

import re
from datetime import date, timedelta
from xml.etree import ElementTree

from markupsafe import Markup

from web.participation import charts
from web.participation.organisations import text_on, theme_css_text
from web.participation.visits import VisitCounter, is_bot

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [date(2026, 11, 1) + timedelta(days=i) for i in range(5)]


def _svg(markup: Markup) -> ElementTree.Element:
    return ElementTree.fromstring(str(markup))


def test_bar_chart__one_bar_per_day_scaled_to_the_peak():
    """Bars are proportional to the values; the tallest fills the drawing height."""
    svg = _svg(charts.bar_chart(list(zip(DAYS, [0, 2, 4, 1, 0], strict=True)), chart_id="c",
                                title="Comments", description="7 in total"))
    bars = svg.findall(f"{SVG}rect")
    heights = [float(b.get("height")) for b in bars]
    assert len(bars) == 5 and heights[2] == charts.HEIGHT - 2 * charts.PAD
    assert heights[1] == heights[2] / 2 and heights[0] == 0
    assert bars[1].find(f"{SVG}title").text == "2026-11-02: 2"


def test_charts__are_images_named_by_title_and_description():
    """role="img" with aria-labelledby pointing at its <title> and <desc> (WCAG 1.1.1)."""
    for draw in (charts.bar_chart, charts.sparkline):
        svg = _svg(draw([(DAYS[0], 3)], chart_id="visits", title="Visits", description="3 visits"))
        assert svg.get("role") == "img"
        assert svg.get("aria-labelledby") == "visits-title visits-desc"
        assert svg.find(f"{SVG}title").get("id") == "visits-title"
        assert svg.find(f"{SVG}title").text == "Visits"
        assert svg.find(f"{SVG}desc").text == "3 visits"


def test_charts__escape_their_texts_and_carry_no_style_or_script():
    markup = charts.sparkline(list(zip(DAYS, [1, 5, 2, 0, 3], strict=True)), chart_id="x",
                              title='<script>alert("x")</script>', description="a & b")
    assert isinstance(markup, Markup)
    assert "<script>" not in markup and "&lt;script&gt;" in markup and "a &amp; b" in markup
    assert "style=" not in markup
    points = _svg(markup).find(f"{SVG}polyline").get("points").split()
    assert len(points) == 5 and float(points[1].split(",")[1]) == charts.PAD  # the peak is at the top


def test_charts__empty_and_all_zero_series_draw_nothing_but_stay_labelled():
    assert _svg(charts.bar_chart([], chart_id="e", title="T", description="D")).find(f"{SVG}rect") is None
    flat = _svg(charts.bar_chart([(DAYS[0], 0), (DAYS[1], 0)], chart_id="z", title="T", description="D"))
    assert {r.get("height") for r in flat.findall(f"{SVG}rect")} == {"0.00"}
    assert charts.describe([(DAYS[0], 0), (DAYS[1], 0)]) == (0, 0, None)
    assert charts.describe(list(zip(DAYS, [1, 5, 2, 0, 3], strict=True))) == (11, 5, DAYS[1])


def test_theme__text_colour_keeps_wcag_contrast():
    """Black text on light colours, white on dark ones; bad colours fall back to the defaults."""
    assert text_on("#ffd34d") == "#000000" and text_on("#0b5cad") == "#ffffff"
    assert text_on("#7a1f3d") == "#ffffff" and text_on("#ffffff") == "#000000"
    css = theme_css_text("red; } body { display:none", "#00ff00")
    assert "--org-primary: #0b5cad;" in css and "display" not in css
    assert re.search(r"--org-accent: #00ff00;\s+--org-on-accent: #000000;", css)


def test_visits__bots_are_recognised():
    assert is_bot("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    assert is_bot("Mozilla/5.0 (compatible; bingbot/2.0)") and is_bot("SomeCrawler/1.0")
    assert not is_bot("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
    assert not is_bot(None)


def test_visit_counter__take_hands_over_and_give_back_keeps_failed_writes():
    counter = VisitCounter()
    counter.hit(1, None, DAYS[0])
    counter.hit(1, None, DAYS[0])
    counter.hit(1, 7, DAYS[0])
    taken = counter.take()
    assert taken == {(1, None, DAYS[0]): 2, (1, 7, DAYS[0]): 1} and counter.pending() == 0
    counter.hit(1, None, DAYS[0])
    counter.give_back(taken)
    assert counter.take() == {(1, None, DAYS[0]): 3, (1, 7, DAYS[0]): 1}
