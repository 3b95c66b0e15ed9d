"""Tests for the LHC Olympics 2020 R&D features reader (bumpfold.io.lhco)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bumpfold.errors import BumpfoldInputError
from bumpfold.features import COLUMNS
from bumpfold.io.lhco import read_lhco_features

LHCO_COLUMNS = ["pxj1", "pyj1", "pzj1", "mj1", "tau1j1", "tau2j1", "tau3j1",
                "pxj2", "pyj2", "pzj2", "mj2", "tau1j2", "tau2j2", "tau3j2", "label"]
N = 200


def make_frame(n: int = N, seed: int = 7) -> pd.DataFrame:
    """Realistic-looking LHCO events: back-to-back-ish jets, pt 1200-2000 GeV, |eta| < 2."""
    rng = np.random.default_rng(seed)
    data = {}
    phi1 = rng.uniform(-np.pi, np.pi, n)
    for i, phi in ((1, phi1), (2, phi1 + np.pi + rng.normal(0.0, 0.2, n))):
        pt = rng.uniform(1200.0, 2000.0, n)
        eta = rng.uniform(-2.0, 2.0, n)
        tau1 = rng.uniform(0.2, 0.9, n)
        tau2 = tau1 * rng.uniform(0.1, 0.95, n)
        tau3 = tau2 * rng.uniform(0.1, 0.95, n)
        data.update({f"pxj{i}": pt * np.cos(phi), f"pyj{i}": pt * np.sin(phi),
                     f"pzj{i}": pt * np.sinh(eta), f"mj{i}": rng.uniform(20.0, 600.0, n),
                     f"tau1j{i}": tau1, f"tau2j{i}": tau2, f"tau3j{i}": tau3})
    data["label"] = np.repeat([1.0, 0.0], [n // 2, n - n // 2])
    return pd.DataFrame(data)[LHCO_COLUMNS]


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_hdf(path, key="df", format="fixed")
    return path


@pytest.fixture
def lhco(tmp_path: Path) -> tuple[pd.DataFrame, Path]:
    frame = make_frame()
    return frame, write(frame, tmp_path / "events_anomalydetection_v2.features.h5")


def test_columns_and_dtypes(lhco):
    frame, path = lhco
    table = read_lhco_features(path)
    assert tuple(table.columns) == COLUMNS
    assert len(table) == N
    assert table["is_signal"].dtype == np.int8
    assert table["weight"].dtype == np.float64
    assert (table["weight"] == 1.0).all()
    np.testing.assert_array_equal(table["is_signal"].to_numpy(), frame["label"].to_numpy().astype(np.int8))
    assert table["is_signal"].sum() == N // 2


def test_mjj_from_raw_four_vectors(lhco):
    frame, path = lhco
    table = read_lhco_features(path)
    p1 = frame[["pxj1", "pyj1", "pzj1"]].to_numpy()
    p2 = frame[["pxj2", "pyj2", "pzj2"]].to_numpy()
    e1 = np.sqrt((p1 ** 2).sum(axis=1) + frame["mj1"].to_numpy() ** 2)
    e2 = np.sqrt((p2 ** 2).sum(axis=1) + frame["mj2"].to_numpy() ** 2)
    mjj = np.sqrt((e1 + e2) ** 2 - ((p1 + p2) ** 2).sum(axis=1))
    np.testing.assert_allclose(table["mjj"].to_numpy(), mjj, rtol=1e-9, atol=0)
    assert (mjj > 2000.0).all()  # sanity: TeV-scale dijets


def test_jet_mass_ordering(lhco):
    frame, path = lhco
    table = read_lhco_features(path)
    m1, m2 = frame["mj1"].to_numpy(), frame["mj2"].to_numpy()
    np.testing.assert_array_equal(table["mj_low"].to_numpy(), np.minimum(m1, m2))
    np.testing.assert_allclose(table["delta_mj"].to_numpy(), np.abs(m1 - m2), rtol=1e-12)
    first_lighter = m1 <= m2
    tau21_1 = frame["tau2j1"].to_numpy() / frame["tau1j1"].to_numpy()
    tau21_2 = frame["tau2j2"].to_numpy() / frame["tau1j2"].to_numpy()
    np.testing.assert_allclose(table["tau21_low"].to_numpy(), np.where(first_lighter, tau21_1, tau21_2),
                               rtol=1e-12)
    np.testing.assert_allclose(table["tau21_high"].to_numpy(), np.where(first_lighter, tau21_2, tau21_1),
                               rtol=1e-12)
    assert first_lighter.any() and (~first_lighter).any()  # both orderings exercised


def test_kinematics(lhco):
    frame, path = lhco
    table = read_lhco_features(path)
    pt1 = np.hypot(frame["pxj1"], frame["pyj1"]).to_numpy()
    pt2 = np.hypot(frame["pxj2"], frame["pyj2"]).to_numpy()
    assert ((table["pt_low"] >= 1200.0) & (table["pt_low"] <= 2000.0)).all()
    np.testing.assert_allclose(np.sort(np.c_[table["pt_low"], table["pt_high"]], axis=1),
                               np.sort(np.c_[pt1, pt2], axis=1), rtol=1e-12)
    assert (table[["eta_low", "eta_high"]].abs() < 2.0 + 1e-9).all().all()


def test_explicit_key(lhco):
    _, path = lhco
    assert len(read_lhco_features(path, key="df")) == N


def test_missing_file(tmp_path: Path):
    path = tmp_path / "nothere.h5"
    with pytest.raises(BumpfoldInputError, match="no such file") as info:
        read_lhco_features(path)
    assert "nothere.h5" in str(info.value)


def test_not_hdf5(tmp_path: Path):
    path = tmp_path / "notes.h5"
    path.write_text("this is not an HDF5 file\n")
    with pytest.raises(BumpfoldInputError) as info:
        read_lhco_features(path)
    assert "notes.h5" in str(info.value)
    assert "HDF5" in str(info.value)


def test_missing_column(tmp_path: Path):
    path = write(make_frame().drop(columns="tau3j2"), tmp_path / "nocol.h5")
    with pytest.raises(BumpfoldInputError) as info:
        read_lhco_features(path)
    assert "nocol.h5" in str(info.value)
    assert "tau3j2" in str(info.value)


def test_empty_frame(tmp_path: Path):
    path = write(make_frame().iloc[:0], tmp_path / "empty.h5")
    with pytest.raises(BumpfoldInputError, match="zero rows") as info:
        read_lhco_features(path)
    assert "empty.h5" in str(info.value)


def test_nan_in_jet_mass(tmp_path: Path):
    frame = make_frame()
    frame.loc[3, "mj1"] = np.nan
    path = write(frame, tmp_path / "nan.h5")
    with pytest.raises(BumpfoldInputError) as info:
        read_lhco_features(path)
    assert str(info.value).startswith(f"{path}: jet 1 mass has 1 NaN/inf value")


def test_nan_tau1_is_an_error_not_tau21_zero(tmp_path: Path):
    frame = make_frame()
    frame.loc[5, "tau1j2"] = np.nan
    path = write(frame, tmp_path / "nan_tau.h5")
    with pytest.raises(BumpfoldInputError, match=r"nan_tau\.h5: jet 2 tau1 has 1 NaN/inf value"):
        read_lhco_features(path)


def test_several_keys_need_key(tmp_path: Path):
    frame = make_frame()
    path = tmp_path / "two.h5"
    frame.to_hdf(path, key="a", format="fixed")
    frame.to_hdf(path, key="b", format="fixed")
    with pytest.raises(BumpfoldInputError, match=r"name one with --key \(bumpfold lhco\) or key= \(read_lhco_features\)") as info:
        read_lhco_features(path)
    assert "two.h5" in str(info.value)
    assert len(read_lhco_features(path, key="b")) == N
    with pytest.raises(BumpfoldInputError, match="no key 'c'"):
        read_lhco_features(path, key="c")


def test_bad_label(tmp_path: Path):
    frame = make_frame()
    frame.loc[0, "label"] = 0.5
    with pytest.raises(BumpfoldInputError, match="'label'") as info:
        read_lhco_features(write(frame, tmp_path / "label.h5"))
    assert "label.h5" in str(info.value)


def test_zero_pt_jet(tmp_path: Path):
    frame = make_frame()
    frame.loc[5, ["pxj2", "pyj2"]] = 0.0
    with pytest.raises(BumpfoldInputError, match="jet 2 has pt = 0") as info:
        read_lhco_features(write(frame, tmp_path / "pt0.h5"))
    assert "pt0.h5" in str(info.value)


def test_a_black_box_has_no_truth(tmp_path: Path):
    """The black boxes have no label: every event is data-like (is_signal -1); asking for a
    label of such a file is an error, not an empty or invented selection."""
    path = write(make_frame().drop(columns="label"), tmp_path / "events_LHCO2020_BlackBox1.features.h5")
    table = read_lhco_features(path)
    assert len(table) == N and (table.is_signal == -1).all()
    with pytest.raises(BumpfoldInputError, match=r"BlackBox1\.features\.h5: no 'label' column \(a black box\)"):
        read_lhco_features(path, label=1)


def test_label_keeps_the_rd_sets_background_or_signal(lhco):
    frame, path = lhco
    background, signal = read_lhco_features(path, label=0), read_lhco_features(path, label=1)
    assert len(background) == (frame.label == 0).sum() and (background.is_signal == 0).all()
    assert len(signal) == (frame.label == 1).sum() and (signal.is_signal == 1).all()


def test_the_particle_level_file_is_not_the_features_file(tmp_path: Path):
    frame = make_frame()
    for k in range(7):
        frame[str(k)] = 0.0  # the raw events file has numbered particle columns
    path = write(frame, tmp_path / "events_anomalydetection_v2.h5")
    with pytest.raises(BumpfoldInputError, match=r"7 column\(s\) that an LHCO features file does not have \(0, 1, 2, 3, 4, \.\.\.\)"):
        read_lhco_features(path)


def test_skim_of_an_lhco_file_applies_the_dijet_selection(lhco):
    from bumpfold.skim import Selection, skim_dataset

    frame, path = lhco
    table, summary = skim_dataset({"lhco": str(path), "key": None, "label": 0}, [path], Selection(delta_eta_max=1.3),
                                  name="lhco_bkg")
    assert summary["label"] == 0 and summary["files"] == [str(path)]
    cut = summary["cutflow"]
    assert cut["all"] == (frame.label == 0).sum() >= cut["two_jets"] >= cut["leading_pt"] >= cut["delta_eta"] == len(table)
    assert (table.delta_eta_jj < 1.3).all() and (np.maximum(table.pt_low, table.pt_high) > 1200).all()
    assert 0 < len(table) < cut["all"]  # the delta-eta cut removes some of these events
    with pytest.raises(BumpfoldInputError, match="dataset 'lhco_bkg': no events pass the selection"):
        skim_dataset({"lhco": str(path), "label": 0}, [path], Selection(leading_pt_min=1e5), name="lhco_bkg")


def test_generated_events_in_the_lhco_format_give_the_skims_table(samples, tmp_path: Path):
    """The converter the LHCO-config tests and benchmark use, checked against the NanoAOD
    skim of the same events: one feature table (to float precision), truth as the label."""
    from bumpfold.io.lhco import lhco_frame_from_nanoaod
    from bumpfold.skim import Selection, skim_files, skim_lhco

    files = [samples["qcd"], samples["signal"]]
    path = write(lhco_frame_from_nanoaod(files), tmp_path / "events.features.h5")
    selection = Selection()
    from_lhco, lhco_summary = skim_lhco(path, selection)
    from_nanoaod, nano_summary = skim_files(files, selection)
    assert len(from_lhco) == len(from_nanoaod) > 100
    assert lhco_summary["cutflow"]["leading_pt"] == nano_summary["cutflow"]["leading_pt"]
    assert set(from_lhco.is_signal) == {0, 1}
    np.testing.assert_array_equal(from_lhco.is_signal, from_nanoaod.is_signal)
    for column in COLUMNS:
        if column not in ("is_signal", "weight"):
            np.testing.assert_allclose(from_lhco[column], from_nanoaod[column], rtol=1e-9, atol=1e-9, err_msg=column)
