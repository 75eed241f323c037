"""Real-browser test of the downloadable HTML reports as a reader meets them: opened from a file
with no network, on a laptop, and printed (saved as PDF) for a meeting.

Runs only through tests/e2e/run.sh, like the other browser tests (Chromium alone: no app server)."""

from __future__ import annotations

import pytest

from benchmarks.class_logs import class_log
from fer_core.report import (
    PRINT_CHART_MAX_PX,
    PRINT_CHART_PX,
    ReportOptions,
    build_comparison_report,
    build_html_report,
)
from tests.e2e.conftest import launch

pytestmark = pytest.mark.e2e

#: An A4 page's width at Chromium's default print margins, in CSS px.
A4_PRINTABLE_PX = 718

#: Each chart's width and each table's overflow, as the page is laid out now.
MEASURE = """() => ({
  charts: [...document.querySelectorAll('.js-plotly-plot .main-svg')].filter(s => !s.parentElement.closest('.main-svg'))
           .map(s => s.getBoundingClientRect().width),
  tables: [...document.querySelectorAll('table.tbl')].map(t => t.scrollWidth - t.clientWidth),
})"""


def test_reports_print_at_full_size_whole_and_offline(playwright_instance, tmp_path_factory, tmp_path):
    """A laptop's window (1280 px) printed to A4: the charts were drawn 1100 px wide, the browser
    shrank the whole report to fit (text at 71 %) and the comparison's table was cut at the
    page's edge. Now the charts are drawn at the page's width while printing and at the window's
    after it, the tables are whole, and nothing was requested beyond the file itself."""
    a, b = class_log(0, minutes=4, faces=6), class_log(1, minutes=4, faces=6)
    files = {
        "report": build_html_report(a, ReportOptions(source="Room 1")),
        "comparison": build_comparison_report({"week 1": a.to_frame(), "week 2": b.to_frame()}),
    }
    ctx = launch(playwright_instance, tmp_path_factory, [])
    try:
        for name, text in files.items():
            path = tmp_path / f"{name}.html"
            path.write_text(text, encoding="utf-8")
            page = ctx.new_page()
            requests: list[str] = []
            page.on("request", lambda r, seen=requests: seen.append(r.url))
            page.goto(path.as_uri())
            page.locator(".js-plotly-plot").last.wait_for()
            screen = page.evaluate(MEASURE)
            assert min(screen["charts"]) > 1000, (name, screen)  # the window's width, before printing
            # What the charts measure while the browser prints (a listener after the report's own).
            page.evaluate(f"() => window.addEventListener('beforeprint', () => window.__printed = ({MEASURE})())")
            page.pdf(path=str(tmp_path / f"{name}.pdf"), format="A4")
            printed = page.evaluate("() => window.__printed")
            assert max(printed["charts"]) <= PRINT_CHART_PX < A4_PRINTABLE_PX, (name, printed)
            page.wait_for_function(
                "() => document.querySelector('.js-plotly-plot .main-svg').getBoundingClientRect().width > 1000"
            )  # back at the window's width
            # On paper the tables are whole: nothing left in a scrolling box.
            page.set_viewport_size({"width": A4_PRINTABLE_PX, "height": 1000})
            page.emulate_media(media="print")
            assert max(page.evaluate(MEASURE)["tables"]) <= 0, name
            assert page.locator(".modebar-container").first.is_hidden()
            assert requests == [path.as_uri()], requests  # offline: the file and nothing else
            page.close()
    finally:
        ctx.close()


#: A Letter page's printable height at Chromium's default print margins, in CSS px (A4's: 1047).
LETTER_PRINTABLE_PX = 980


def test_a_timeline_of_many_faces_prints_on_one_page(playwright_instance, tmp_path_factory, tmp_path):
    """A 46-minute class of 25 who leave and come back: 57 face numbers, a per-face timeline 1176
    px high, taller than a page: printed, its time axis and legend ran onto the next page alone.
    On paper it is now a page high at most, every face still named; back on screen, its own height."""
    log = class_log(3, minutes=46, faces=25, leave_per_hour=3)
    assert log.summary().faces == 57
    path = tmp_path / "report.html"
    path.write_text(build_html_report(log), encoding="utf-8")
    timeline = """() => { const d = [...document.querySelectorAll('.js-plotly-plot')]
      .find(d => d.layout.title.text.startsWith('Per-face timeline'));
      return {height: d.getBoundingClientRect().height, faces: d.querySelectorAll('.ytick').length}; }"""
    ctx = launch(playwright_instance, tmp_path_factory, [])
    try:
        page = ctx.new_page()
        page.goto(path.as_uri())
        page.locator(".js-plotly-plot").last.wait_for()
        screen = page.evaluate(timeline)
        assert screen == {"height": 150 + 18 * 57, "faces": 57}, screen
        page.evaluate(f"() => window.addEventListener('beforeprint', () => window.__printed = ({timeline})())")
        page.pdf(path=str(tmp_path / "report.pdf"), format="Letter")
        printed = page.evaluate("() => window.__printed")
        assert printed["height"] <= PRINT_CHART_MAX_PX < LETTER_PRINTABLE_PX and printed["faces"] == 57, printed
        page.wait_for_function(f"() => ({timeline})().height === {screen['height']}")  # its own height again
    finally:
        ctx.close()


def test_a_browser_that_cannot_unpack_plotly_says_so_in_each_charts_box(playwright_instance, tmp_path_factory,
                                                                       tmp_path):
    """plotly.js goes gzipped (4.8 MB of each report was the library), unpacked by the browser's
    DecompressionStream. A browser without it (Safari before 16.4) shows, in place of each chart,
    why it is not drawn, with the tables whole; a current one draws every chart from the file alone."""
    log = class_log(2, minutes=4, faces=3)
    path = tmp_path / "report.html"
    path.write_text(build_html_report(log), encoding="utf-8")
    ctx = launch(playwright_instance, tmp_path_factory, [])
    try:
        page = ctx.new_page()
        page.add_init_script("delete window.DecompressionStream")
        page.goto(path.as_uri())
        charts = page.locator(".plotly-graph-div").count()
        page.locator(".no-charts").nth(charts - 1).wait_for()
        assert charts >= 4 and page.locator(".js-plotly-plot").count() == 0
        assert "too old to draw the charts" in page.locator(".no-charts").first.inner_text()
        assert page.locator("table.tbl").count() >= 3
        page.close()
        page = ctx.new_page()
        page.goto(path.as_uri())
        page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= {charts}")
        assert page.locator(".no-charts").count() == 0
    finally:
        ctx.close()
