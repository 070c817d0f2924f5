"""The HTML and text reports stay bounded: bars binned past a few hundred records, tables capped,
both said on the page. (Time and memory figures: benchmarks/report_scale.py.)"""

from __future__ import annotations

import dataclasses
import re

from storage_helpers import make_record

from jupyter_carbon.digest import MAX_ROWS, Digest
from jupyter_carbon.display.plots import MAX_BARS, MAX_BINS, bars_title
from jupyter_carbon.display.report_html import html_report
from jupyter_carbon.display.report_text import summary_text


def _digest(n: int) -> Digest:
    digest = Digest()
    for i in range(1, n + 1):
        digest.add(make_record(i, points=0, status="error" if i % 250 == 0 else "ok"))
    return digest


def test_many_records_are_binned_and_the_table_capped() -> None:
    n = 2_345
    digest = _digest(n)
    assert len(digest.rows) == MAX_ROWS and digest.count == n and digest.errors == n // 250
    page = html_report(digest)
    assert page.count('<tr class="jc-row"') == MAX_ROWS
    assert f"Cells: the newest {MAX_ROWS} of 2,345 records" in page
    size = -(-n // MAX_BINS)
    caption = (
        f"CO2e per bin of {size} consecutive records ({-(-n // size)} bins for 2,345 records), "
        "by component"
    )
    assert bars_title(n) == caption and f"<figcaption>{caption}</figcaption>" in page
    assert page.count("data:image/png;base64,") == 2
    assert "Failed cells" in page and page.count("<li>") == n // 250
    text = summary_text(digest)
    rows = [line for line in text.splitlines() if re.match(r"\s+\d+\s", line)]
    assert len(rows) == MAX_ROWS and f"the newest {MAX_ROWS} of 2,345 records are shown" in text


def test_few_records_get_one_bar_each_and_every_row() -> None:
    digest = _digest(12)
    page = html_report(digest)
    assert page.count('<tr class="jc-row"') == 12 and "Cells: 12 records" in page
    assert "<figcaption>CO2e per window, by component</figcaption>" in page
    assert bars_title(MAX_BARS) == "CO2e per window, by component" and "bin" in bars_title(
        MAX_BARS + 1
    )
    assert "not shown" not in summary_text(digest) and "newest" not in summary_text(digest)


def test_the_cumulative_curve_ends_at_the_reported_total() -> None:
    digest = _digest(400)
    counted = digest.counted_co2e_g()
    assert (
        abs(sum(map(sum, counted.values())) - digest.totals.co2e_g) <= 1e-9 * digest.totals.co2e_g
    )


def test_huge_labels_keep_later_reports_and_the_summary_small() -> None:
    """Ten windows labelled 4 MB each, then an ordinary cell: its report (whose bar tooltips name
    the recent windows) and the session summary stay small; the records keep their labels."""
    from jupyter_carbon.display.html import record_html
    from jupyter_carbon.display.report_html import summary_html

    huge = [make_record(i) for i in range(1, 11)]
    huge = [dataclasses.replace(r, label=f"L{i}" + "é" * 4_000_000) for i, r in enumerate(huge)]
    later = make_record(11)
    records = [*huge, later]
    assert len(huge[0].label) > 4_000_000
    page = record_html(later, recent=records)
    assert len(page) < 200_000, f"{len(page):,} characters"
    assert "L3éé" in page  # the tooltips still name them
    summary = summary_html(records)
    assert len(summary) < 2_000_000, f"{len(summary):,} characters"
    text = summary_text(Digest(records))
    assert len(text) < 200_000


def test_the_bar_chart_axis_spans_its_bars() -> None:
    """Four bars: the axis runs over those four (ticks 1–4), not 0–9."""
    from jupyter_carbon.display.plots import bars_figure

    fig = bars_figure({"cpu": [1.0, 2.0, 3.0, 4.0]}, [1, 1, 1, 1])
    ax = fig.axes[0]
    fig.canvas.draw()
    low, high = ax.get_xlim()
    assert -1 < low < 0 and 3 < high < 4
    labels = [t.get_text() for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high]
    assert labels == ["1", "2", "3", "4"]
    many = bars_figure({"cpu": [1.0] * 30}, [1] * 30).axes[0]
    assert 29 < many.get_xlim()[1] < 30
