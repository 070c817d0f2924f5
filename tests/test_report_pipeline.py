"""One digest, one renderer per format: the in-kernel summary and the CLI report show the same
views of the same records (issue 22, point 2)."""

from __future__ import annotations

import dataclasses

from storage_helpers import make_record

from jupyter_carbon.cluster_part import ClusterPart
from jupyter_carbon.digest import MAX_ROWS, TIMELINES, Digest, totals_of_session
from jupyter_carbon.display.report_html import html_report, summary_html
from jupyter_carbon.display.report_text import summary_text
from jupyter_carbon.energy import Energy
from jupyter_carbon.record import SessionTotals


def _with_cluster(i: int, energy_j: float, idle_j: float) -> object:
    host = {"host": "worker-1", "energy_j": energy_j, "low_j": energy_j, "high_j": energy_j}
    host.update(measured=True, methods=["rapl"], idle_j=idle_j)
    part = ClusterPart.from_dict({"hosts": [host]})  # the log's form
    return dataclasses.replace(make_record(i), cluster=part)


def test_the_cluster_share_is_in_every_rendering() -> None:
    records = [make_record(1), _with_cluster(2, 3600.0, 360.0), _with_cluster(3, 7200.0, 0.0)]
    line = "cluster (Dask): 3 Wh charged (measured) over 2 record(s) · idle 100 mWh not charged"
    assert line in summary_text(records)
    assert line in summary_html(records) and line in html_report(records)


def test_the_biggest_timelines_are_kept_most_energy_first_earlier_on_a_tie() -> None:
    records = [make_record(i) for i in range(1, 9)]  # energy grows with i
    records.insert(0, dataclasses.replace(make_record(9), id=0))  # as much as the last one, earlier
    records.append(make_record(20, points=1))  # the most energy, but no power timeline to draw
    chosen = Digest(records).timelines
    assert len(chosen) == TIMELINES and [r.id for r in chosen] == [0, 8, 7, 6]


def test_the_kernels_own_totals_head_the_summary_with_their_band() -> None:
    kernel = SessionTotals(
        windows=5, energy=Energy(3600.0, 1800.0, 7200.0), co2e_g=2.0, duration_s=10.0
    )
    text = summary_text(Digest([make_record(1)], totals=totals_of_session(kernel)))
    head, band = text.splitlines()[:2]
    assert head == "jupyter_carbon session: 5 cells · 10 s measured · 1 Wh · 2 g CO2e"
    assert band == "range of the estimates: 0.5–2 Wh, 1–4 g CO2e"


def test_one_row_limit_for_text_and_html() -> None:
    digest = Digest(make_record(i, points=0) for i in range(1, MAX_ROWS + 11))
    text, page, fragment = summary_text(digest), html_report(digest), summary_html(digest)
    note = f"the newest {MAX_ROWS} of {MAX_ROWS + 10:,} records are shown"
    assert note in text and note in page and note in fragment
    assert page.count('<tr class="jc-row"') == fragment.count('<tr class="jc-row"') == MAX_ROWS
