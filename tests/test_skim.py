"""Skim: real CMS NanoAOD, generated files, features, and every kind of bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import uproot

from bumpfold.errors import BumpfoldInputError
from bumpfold.features import COLUMNS
from bumpfold.skim import Selection, skim_files, write_table


def test_real_cms_nanoaod_skims(pfnano):
    table, info = skim_files([pfnano], Selection(), dataset="cms")
    assert list(table.columns) == list(COLUMNS)
    assert info["cutflow"]["all"] == 10
    assert 0 < len(table) <= 10
    # the file holds 1.2-1.8 TeV dijets: m_jj of a few TeV, jet masses below the jet pT
    assert ((table.mjj > 2000) & (table.mjj < 5000)).all()
    assert (table.pt_low > 1000).all() and (table.mj_low < table.pt_low).all()
    assert (table.is_signal == -1).all()  # no truth branch: data-like


def test_generated_features_are_consistent(samples):
    table, info = skim_files([samples["qcd"], samples["signal"]], Selection(delta_eta_max=1.3), dataset="mix")
    cut = info["cutflow"]
    assert cut["all"] >= cut["two_jets"] >= cut["leading_pt"] >= cut["delta_eta"] == len(table) > 0
    assert (table.delta_mj >= 0).all() and (table.delta_eta_jj < 1.3).all()
    assert (np.maximum(table.pt_low, table.pt_high) > 1200).all()
    assert set(table.is_signal.unique()) == {0, 1}
    assert table[list(COLUMNS[:-2])].notna().all().all()


def _write(path, **branches):
    with uproot.recreate(path) as f:
        f["Events"] = branches
    return path


def _fatjet_file(path, mass, **lead):
    import awkward as ak
    first = {"pt": 1500.0, "eta": 0.1, "phi": 0.0, "mass": mass, "tau1": 0.5, "tau2": 0.3, "tau3": 0.2, **lead}
    jets = ak.Array([[first,
                      {"pt": 1400.0, "eta": -0.3, "phi": 3.0, "mass": 80.0, "tau1": 0.5, "tau2": 0.3, "tau3": 0.2}]])
    from bumpfold.io.nanoaod import write_tree
    with uproot.recreate(path) as f:
        write_tree(f, "Events", {"FatJet": jets})
    return path


def test_missing_file(tmp_path):
    with pytest.raises(BumpfoldInputError, match=r"nope\.root: no such file"):
        skim_files([tmp_path / "nope.root"], Selection())


def test_not_a_root_file(tmp_path):
    path = tmp_path / "text.root"
    path.write_text("this is not ROOT\n" * 100)
    with pytest.raises(BumpfoldInputError, match=r"text\.root: not a readable ROOT file"):
        skim_files([path], Selection())


def test_truncated_root_file(tmp_path, samples):
    path = tmp_path / "truncated.root"
    path.write_bytes(samples["qcd"].read_bytes()[:5000])
    with pytest.raises(BumpfoldInputError, match=r"truncated\.root"):
        skim_files([path], Selection())


def test_no_events_tree(tmp_path):
    path = tmp_path / "other.root"
    with uproot.recreate(path) as f:
        f["Other"] = {"x": np.arange(3.0)}
    with pytest.raises(BumpfoldInputError, match=r"other\.root: no TTree 'Events' \(found: Other\)"):
        skim_files([path], Selection())


def test_no_fatjet_branches(tmp_path):
    path = _write(tmp_path / "nojets.root", Muon_pt=np.ones(4))
    with pytest.raises(BumpfoldInputError, match=r"nojets\.root: tree 'Events' lacks branch nFatJet, .*\(the FatJet collection\)"):
        skim_files([path], Selection())


def test_zero_events_after_selection(samples):
    with pytest.raises(BumpfoldInputError, match=r"dataset 'qcd': no events pass the selection"):
        skim_files([samples["qcd"]], Selection(leading_pt_min=1e6), dataset="qcd")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_jet_value(tmp_path, bad):
    path = _fatjet_file(tmp_path / "nan.root", bad)
    with pytest.raises(BumpfoldInputError, match=r"nan\.root: FatJet_mass has 1 NaN/inf value"):
        skim_files([path], Selection())


@pytest.mark.parametrize(("lead", "message"), [
    ({"tau1": np.nan}, "FatJet_tau1 has 1 NaN/inf"),  # was tau21 = 0, silently
    ({"eta": np.nan}, "FatJet_eta has 1 NaN/inf"),  # was a dropped jet, silently
    ({"pt": 1e30}, "FatJet_pt has 1 value(s) above 100000 GeV"),  # was m_jj = 0
    ({"mass": -5.0}, "FatJet_mass has 1 negative value"),
])
def test_implausible_jet_values_stop_the_skim(tmp_path, lead, message):
    path = _fatjet_file(tmp_path / "bad.root", lead.pop("mass", 120.0), **lead)
    with pytest.raises(BumpfoldInputError, match=rf"bad\.root: {message.replace('(', '[(]').replace(')', '[)]')}"):
        skim_files([path], Selection())


def test_a_file_listed_twice_is_read_once(samples, tmp_path):
    """A path and a glob (or a link) naming the same file: one read, not double the events."""
    link = tmp_path / "same.root"
    link.symlink_to(samples["signal"])
    once, info_once = skim_files([samples["signal"]], Selection())
    twice, info_twice = skim_files([samples["signal"], link, samples["signal"]], Selection())
    assert len(twice) == len(once) and info_twice["cutflow"] == info_once["cutflow"]
    assert info_twice["files"] == [str(samples["signal"])]


def test_flat_fatjet_branches_are_not_nanoaod(tmp_path):
    path = _write(tmp_path / "flat.root", nFatJet=np.full(3, 2, np.int32),
                  **{f"FatJet_{f}": np.ones(3) for f in ("pt", "eta", "phi", "mass", "tau1", "tau2", "tau3")})
    with pytest.raises(BumpfoldInputError, match=r"flat\.root: tree 'Events' is not NanoAOD-like"):
        skim_files([path], Selection())


def test_write_table_is_atomic(tmp_path, samples):
    table, info = skim_files([samples["signal"]], Selection())
    write_table(table, info, tmp_path / "t.parquet", tmp_path / "t.json")
    assert json.loads((tmp_path / "t.json").read_text())["cutflow"]["leading_pt"] == len(table)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json", "t.parquet"]
