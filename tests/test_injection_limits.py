"""CASE's limits from injection scans: the crossing of the injected cross section with the
limit its measured efficiency gives, on hand-made scans whose answers are known."""

from __future__ import annotations

import math

import pytest

from bumpfold.bumphunt.injection_limits import (
    ScanPoint,
    excluded_cross_section,
    injected_cross_section,
    limits_table,
    scan_limits,
)
from bumpfold.errors import BumpfoldInputError

CUTFLOW = {"cutflow": {"all": 3000, "leading_pt": 2700}, "cuts": ["all", "leading_pt"],
           "generator": {"n_generated": 3000.0, "cross_section_pb": 0.004}}


def test_a_selection_that_does_not_learn_gives_the_ordinary_limit():
    crossing = excluded_cross_section([ScanPoint(0.0, 0.02)], limit_events=50.0, luminosity_fb=100.0)
    assert crossing.sigma_fb == pytest.approx(50.0 / (100.0 * 0.02))


def test_the_crossing_interpolates_the_efficiency_between_injections():
    # eps rises from 0.05 at 10 fb to 0.10 at 20 fb: sigma eps(sigma) = 1 fb at sigma^2 = 200
    points = [ScanPoint(0.0, 0.01), ScanPoint(10.0, 0.05), ScanPoint(20.0, 0.10)]
    crossing = excluded_cross_section(points, limit_events=2.0, luminosity_fb=2.0)
    assert crossing.sigma_fb == pytest.approx(math.sqrt(200.0), rel=1e-9)
    # between 0 and the first injection: eps 0.01 + 0.004 sigma, sigma eps = 0.15 at sigma = 5
    assert excluded_cross_section(points, limit_events=0.15, luminosity_fb=1.0).sigma_fb == pytest.approx(5.0)


def test_a_scan_that_never_reaches_exclusion_says_how_far_it_went():
    points = [ScanPoint(0.0, 0.0), ScanPoint(10.0, 0.01), ScanPoint(20.0, 0.02)]
    crossing = excluded_cross_section(points, limit_events=100.0, luminosity_fb=1.0)
    assert crossing.sigma_fb is None and crossing.note == "not excluded up to 20 fb (the largest injection)"


@pytest.mark.parametrize(("points", "message"), [
    ([ScanPoint(5.0, 0.1)], "the first point must be the run without injection"),
    ([ScanPoint(0.0, 0.1), ScanPoint(20.0, 0.1), ScanPoint(10.0, 0.1)], "must increase"),
])
def test_malformed_scans_are_refused(points, message):
    with pytest.raises(BumpfoldInputError, match=message):
        excluded_cross_section(points, limit_events=1.0, luminosity_fb=1.0)


def test_injected_events_convert_to_cross_section_through_the_skim_acceptance():
    # 100 skimmed events of a model whose skim keeps 2700 of 3000, in 2 fb^-1
    assert injected_cross_section(100, CUTFLOW, 2.0, "w") == pytest.approx(100 * 3000 / (2700 * 2.0))
    with pytest.raises(BumpfoldInputError, match="signal model w: its cutflow has 0 generated"):
        injected_cross_section(100, {**CUTFLOW, "generator": None}, 2.0, "w")


def _row(selection, injection, eps, *, model="w", injected=None, status="ok", n_obs=30.0):
    return {"signal_model": model, "selection": selection, "efficiency": "0.1", "window": "sr3300_3700",
            "injection": injection, "toy": None, "injected_model": injected, "status": status,
            "luminosity_fb": 1.0, "signal_window_efficiency": eps, "limit_obs_events": n_obs,
            "limit_exp_events": [10.0, 20.0, 30.0, 40.0, 60.0]}


def test_rows_of_the_data_and_the_scan_combine_per_model_and_selection():
    sigma_100 = 100 * 3000 / 2700  # fb at 1 fb^-1
    rows = [_row("cathode", 0, 0.01), _row("inclusive", 0, 0.2),
            _row("cathode", 100, 0.1, injected="w"), _row("cathode", 200, 0.3, injected="w"),
            _row("cathode", 100, 0.9, injected="other", model="other")]  # another model's scan: ignored
    limits, failed = scan_limits(rows, cutflows={"w": CUTFLOW}, info={"w": {"topology": "qq", "m_resonance": 3500.0}})
    assert not failed
    by_selection = {lim.selection: lim for lim in limits}
    assert by_selection["inclusive"].observed.sigma_fb == pytest.approx(30.0 / 0.2)
    cathode = by_selection["cathode"]
    assert [p.sigma_fb for p in cathode.points] == pytest.approx([0.0, sigma_100, 2 * sigma_100])
    # sigma eps(sigma) reaches 30 events between the two injections (111 fb x 0.1 = 11, 222 x 0.3 = 67)
    assert sigma_100 < cathode.observed.sigma_fb < 2 * sigma_100
    assert cathode.expected[0].sigma_fb < cathode.expected[2].sigma_fb < cathode.expected[4].sigma_fb
    assert "| w | qq | 4 | sr3300_3700 | cathode | 0.1 |" in limits_table(limits, failed)  # 0.004 pb = 4 fb


def test_a_failed_run_without_injection_is_reported_not_scanned():
    rows = [_row("cathode", 0, 0.01, status="failed: 3 events above the quantile"),
            _row("cathode", 100, 0.1, injected="w")]
    limits, failed = scan_limits(rows, cutflows={"w": CUTFLOW}, info={"w": {}})
    assert not limits
    assert failed[0]["status"] == "failed: the run without injection: failed: 3 events above the quantile"


def test_each_model_is_limited_in_the_window_of_its_mass():
    """The run without injection has rows in every window; a 3.9 TeV model's limit comes from
    3.7-4.1 TeV, not from whichever window was read last."""
    rows = [{**_row("inclusive", 0, eps), "window": window, "limit_obs_events": n}
            for window, eps, n in (("sr3700_4100", 0.2, 30.0), ("sr3300_3700", 0.1, 90.0))]
    limits, _ = scan_limits(rows, cutflows={"w": CUTFLOW}, info={"w": {"m_resonance": 3900.0}})
    assert [(lim.window, lim.observed.sigma_fb) for lim in limits] == [("sr3700_4100", pytest.approx(150.0))]


def test_a_crossing_below_the_smallest_injection_is_marked():
    points = [ScanPoint(0.0, 0.01), ScanPoint(10.0, 0.5)]
    crossing = excluded_cross_section(points, limit_events=1.0, luminosity_fb=1.0)
    assert 0 < crossing.sigma_fb < 10.0 and crossing.note == "below the smallest injection"


def test_the_summary_page_holds_the_scans_limits_table(tmp_path):
    """The headline page takes the scan's table one level down, without its provenance footer."""
    from bumpfold.headline import write_summary

    limits, failed = scan_limits([_row("inclusive", 0, 0.2)], cutflows={"w": CUTFLOW}, info={"w": {"topology": "qq"}})
    table = tmp_path / "limits.md"
    table.write_text(limits_table(limits, failed) + "\n<!-- provenance: x -->\n")
    record = {"seed": 1, "git_commit": "abc", "config_sha256": "0", "python": "3", "packages": {}}
    page = write_summary(output=tmp_path / "summary.md", record=record, limits=table)
    assert "\n## Limits from injection scans" in page and page.count("<!-- provenance:") == 1
