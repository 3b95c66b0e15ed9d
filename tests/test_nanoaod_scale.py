"""NanoAOD at scale (issue 15): the data-quality cuts a CMS analysis applies (golden JSON,
triggers, event filters, FatJet ID) with cutflows checked by an independent count, reading
in bounded steps, file lists and root:// URLs, one skim job per file, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import awkward as ak
import numpy as np
import pandas as pd
import pytest
import uproot
import yaml

from bumpfold.errors import BumpfoldInputError
from bumpfold.io.filelists import dataset_files
from bumpfold.io.nanoaod import write_tree
from bumpfold.quality import DataQuality
from bumpfold.skim import Selection, skim_file, skim_files
from tests.test_workflow import _copy_workflow

TRIGGERS = ("HLT_AK8PFJet500", "HLT_PFJet500")
FILTERS = ("Flag_goodVertices", "Flag_METFilters")


def _count_by_hand(path, quality: DataQuality, certified: dict[int, list[list[int]]] | None = None) -> dict[str, int]:
    """The cutflow of ``path`` counted event by event in plain Python, independently of the
    skim's vectorised code (leading-pT cut at 1.2 TeV, |eta| < 2.5, no delta-eta cut)."""
    names = ["run", "luminosityBlock", *quality.triggers, *quality.event_filters,
             "FatJet_pt", "FatJet_eta", "FatJet_jetId"]
    events = uproot.open(path)["Events"].arrays(names, library="ak").tolist()
    counts = dict.fromkeys(["all", "lumi_mask", "trigger", "event_filters", "two_jets", "jet_id", "leading_pt"], 0)
    for ev in events:
        counts["all"] += 1
        if certified is not None:
            if not any(lo <= ev["luminosityBlock"] <= hi for lo, hi in certified.get(ev["run"], [])):
                continue
            counts["lumi_mask"] += 1
        if not any(ev[t] for t in quality.triggers):
            continue
        counts["trigger"] += 1
        if not all(ev[f] for f in quality.event_filters):
            continue
        counts["event_filters"] += 1
        central = [(pt, jid) for pt, eta, jid in zip(ev["FatJet_pt"], ev["FatJet_eta"], ev["FatJet_jetId"])
                   if abs(eta) < 2.5]
        if len(central) < 2:
            continue
        counts["two_jets"] += 1
        good = sorted((pt for pt, jid in central if jid & (1 << quality.fatjet_id_bit)), reverse=True)
        if len(good) < 2:
            continue
        counts["jet_id"] += 1
        counts["leading_pt"] += good[0] > 1200
    return counts if certified is not None else {k: v for k, v in counts.items() if k != "lumi_mask"}


def test_cms_quality_cuts_match_an_independent_count(pfnano):
    quality = DataQuality(triggers=TRIGGERS, event_filters=FILTERS, fatjet_id_bit=1)
    table, info = skim_files([pfnano], Selection(), quality=quality)
    assert info["cutflow"] == _count_by_hand(pfnano, quality)
    assert info["cuts"] == ["all", "trigger", "event_filters", "two_jets", "jet_id", "leading_pt"]
    assert info["cutflow"]["event_filters"] == 7 and len(table) == 7  # 3 of the 10 events fail Flag_METFilters


def test_golden_json_keeps_or_drops_the_files_luminosity_section(pfnano, tmp_path):
    """pfnano.root is run 1, luminosity section 17359: a JSON certifying it keeps all ten
    events, one that does not drops them all (collision data, or simulation when asked)."""
    keep, drop = tmp_path / "keep.json", tmp_path / "drop.json"
    keep.write_text(json.dumps({"1": [[17000, 17400]]}))
    drop.write_text(json.dumps({"1": [[1, 17358]], "2": [[17359, 17359]]}))
    _, kept = skim_file(pfnano, Selection(), quality=DataQuality(is_data=True, golden_json=str(keep)))
    assert kept["cutflow"]["lumi_mask"] == 10
    with pytest.raises(BumpfoldInputError, match="no events pass the selection"):
        skim_files([pfnano], Selection(), quality=DataQuality(is_data=True, golden_json=str(drop)))
    asked = DataQuality(golden_json=str(drop), lumi_mask_on_simulation=True)
    assert skim_file(pfnano, Selection(), quality=asked)[1]["cutflow"]["lumi_mask"] == 0
    # simulation skips the data-only cut unless asked, and says so
    table, info = skim_files([pfnano], Selection(), quality=DataQuality(golden_json=str(drop)))
    assert "lumi_mask" not in info["cutflow"] and len(table) == 10
    assert info["skipped"] == ["lumi_mask: simulation (set quality.lumi_mask_on_simulation to apply the golden JSON)"]


def _data_like_file(path, seed: int, n: int = 400):
    """Collision-data-like NanoAOD: several runs and luminosity sections, triggers, filters,
    jet IDs and no generator branches."""
    rng = np.random.default_rng(seed)
    n_jets = rng.integers(0, 4, n)
    total = int(n_jets.sum())

    def jagged(values):
        return ak.unflatten(values, n_jets)

    fatjet = ak.zip({"pt": jagged(rng.uniform(300, 2500, total)), "eta": jagged(rng.uniform(-3, 3, total)),
                     "phi": jagged(rng.uniform(-3, 3, total)), "mass": jagged(rng.uniform(10, 400, total)),
                     "tau1": jagged(rng.uniform(0.2, 0.6, total)), "tau2": jagged(rng.uniform(0.05, 0.2, total)),
                     "tau3": jagged(rng.uniform(0.01, 0.05, total)),
                     "jetId": jagged(rng.choice([0, 2, 6], total).astype(np.int32))})
    branches = {"FatJet": fatjet, "run": rng.choice([315000, 315100, 316000], n).astype(np.uint32),
                "luminosityBlock": rng.integers(1, 60, n).astype(np.uint32)}
    for name in (*TRIGGERS, *FILTERS):
        branches[name] = rng.random(n) < 0.8
    with uproot.recreate(path) as f:
        write_tree(f, "Events", branches)
    return path


def test_partial_golden_json_on_several_runs_and_sections(tmp_path):
    certified = {315000: [[1, 20], [30, 40]], 316000: [[5, 59]]}  # run 315100 not certified
    golden = tmp_path / "golden.json"
    golden.write_text(json.dumps({str(run): ranges for run, ranges in certified.items()}))
    files = [_data_like_file(tmp_path / f"data{i}.root", seed=i) for i in range(2)]
    quality = DataQuality(is_data=True, golden_json=str(golden), triggers=TRIGGERS, event_filters=FILTERS,
                          fatjet_id_bit=1)
    table, info = skim_files(files, Selection(), quality=quality, events_per_read=37)
    expected = [_count_by_hand(f, quality, certified) for f in files]
    assert info["cutflow"] == {k: sum(e[k] for e in expected) for k in expected[0]}
    assert 0 < info["cutflow"]["lumi_mask"] < info["cutflow"]["all"]
    assert (table.is_signal == -1).all() and (table.weight == 1.0).all()


def test_reading_in_steps_gives_the_whole_file_result(samples):
    whole, info = skim_file(samples["qcd"], Selection(), events_per_read=10**9)
    stepped, info_stepped = skim_file(samples["qcd"], Selection(), events_per_read=97)
    pd.testing.assert_frame_equal(whole, stepped)
    assert info == info_stepped and info["optional_branches"] == ["Truth_isSignal"]


def test_a_missing_trigger_names_the_file_and_branch(pfnano):
    message = r"pfnano\.root: tree 'Events' lacks branch HLT_NoSuchPath \(a trigger"
    with pytest.raises(BumpfoldInputError, match=message):
        skim_files([pfnano], Selection(), quality=DataQuality(triggers=("HLT_PFJet500", "HLT_NoSuchPath")))


@pytest.mark.parametrize("content, cause", [("{not json", "JSONDecodeError"),
                                            ('{"1": [[20, 10]]}', "run 1: expected"),
                                            ('{"one": [[1, 2]]}', "'one' is not a run number"),
                                            ('[[1, 2]]', "an object of runs")])
def test_a_malformed_golden_json_is_named(pfnano, tmp_path, content, cause):
    golden = tmp_path / "golden.json"
    golden.write_text(content)
    with pytest.raises(BumpfoldInputError, match=rf"golden\.json: not a golden JSON \(.*{cause}"):
        skim_file(pfnano, Selection(), quality=DataQuality(is_data=True, golden_json=str(golden)))


def test_events_per_read_must_be_positive(pfnano):
    from bumpfold.config import validate_config

    with pytest.raises(BumpfoldInputError, match="'skim.events_per_read'"):
        validate_config({"skim": {"events_per_read": 0}})
    with pytest.raises(BumpfoldInputError, match="events per read must be positive"):
        skim_file(pfnano, Selection(), events_per_read=0)


def test_a_dataset_whose_files_change_schema_stops(samples, pfnano, tmp_path):
    """A generated file (truth, weights) and a CMS file without truth in one dataset would
    mix labelled and unlabelled events: the merge names both files."""
    with pytest.raises(BumpfoldInputError, match=r"pfnano\.root has optional branches \['genWeight'\] but .*qcd"):
        skim_files([samples["qcd"], pfnano], Selection(), dataset="mixed")
    broken = tmp_path / "no_tau3.root"
    jets = ak.Array([[{"pt": 1500.0, "eta": 0.1, "phi": 0.0, "mass": 90.0, "tau1": 0.5, "tau2": 0.3}] * 2])
    with uproot.recreate(broken) as f:
        write_tree(f, "Events", {"FatJet": jets})
    with pytest.raises(BumpfoldInputError, match=r"no_tau3\.root: tree 'Events' lacks branch FatJet_tau3"):
        skim_files([samples["qcd"], broken], Selection())


def test_root_urls_reach_the_reader_unchanged():
    """The former skim resolved URLs as local paths ('root:/host/...'); the error on an
    unreachable server now names the URL exactly as given."""
    url = "root://localhost:1//store/data/Run2018A/JetHT/NANOAOD/x.root"
    env = {**os.environ, "XRD_CONNECTIONRETRY": "1", "XRD_REQUESTTIMEOUT": "5"}
    code = ("from bumpfold.skim import Selection, skim_files\n"
            f"skim_files([{url!r}], Selection())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert f"BumpfoldInputError: {url}: " in last
    assert "cannot read the remote file" in last or "bumpfold[xrootd]" in last


def test_file_lists_and_urls(tmp_path):
    local = [tmp_path / f"f{i}.root" for i in range(3)]
    for path in local:
        path.write_bytes(b"")
    listing = tmp_path / "files.txt"
    url = "root://cms-xrd-global.cern.ch//store/data/x.root"
    listing.write_text(f"# from DAS\n{local[1]}\n\n{url}\n{local[1]}\n")
    files = dataset_files("d", [str(tmp_path / "f*.root")], str(listing))
    assert files == [str(local[0]), str(local[1]), str(local[2]), url]  # each file once, the URL as written
    listing.write_text(f"{local[0]}\n{tmp_path / 'gone.root'}\n")
    message = r"datasets\.d\.file_list \(.*files\.txt, line 2\).*gone\.root: no such"
    with pytest.raises(BumpfoldInputError, match=message):
        dataset_files("d", file_list=str(listing))
    with pytest.raises(BumpfoldInputError, match="globs work on local paths only"):
        dataset_files("d", ["root://host//store/*.root"])
    with pytest.raises(BumpfoldInputError, match="cannot read file list"):
        dataset_files("d", file_list=str(tmp_path / "nolist.txt"))


def _skim_only_config(datasets: dict) -> dict:
    return {"datasets": datasets, "search": {"enabled": False}, "unfold": {"enabled": False}}


def _snakemake(workdir, config, *extra):
    (workdir / "run.yaml").write_text(yaml.safe_dump(config))
    # targets before --configfile, which takes several files
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *extra, "--configfile", "run.yaml"],
                          cwd=workdir, capture_output=True, text=True, timeout=600)


def test_a_dataset_of_urls_plans_one_job_per_file(tmp_path, pfnano):
    workdir = _copy_workflow(tmp_path / "wf")
    listing = workdir / "files.txt"
    listing.write_text("".join(f"root://eospublic.cern.ch//eos/opendata/cms/x{i}.root\n" for i in range(5)))
    config = _skim_only_config({"remote": {"file_list": "files.txt", "is_data": True},
                                "local": {"files": [str(pfnano)]}})
    result = _snakemake(workdir, config, "-n", "--quiet", "rules")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split() for line in result.stdout.splitlines()]
    counts = {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}
    assert counts["skim_file"] == 6 and counts["skim"] == 2, result.stdout


def test_a_failed_file_leaves_no_merged_table(tmp_path, pfnano):
    workdir = _copy_workflow(tmp_path / "wf")
    bad = workdir / "bad.root"
    bad.write_bytes(b"not a ROOT file")
    config = _skim_only_config({"cms": {"files": [str(pfnano), str(bad)]}})
    result = _snakemake(workdir, config, "--keep-going")
    assert result.returncode != 0
    assert (workdir / "results/skim/cms/part0.parquet").is_file()  # the good file's job finished
    assert not (workdir / "results/skim/cms.parquet").exists()
    assert not (workdir / "results/skim/cms/part1.parquet").exists()
    assert "bad.root: not a readable ROOT file" in (workdir / "logs/skim/cms/part1.log").read_text()


def test_the_lumi_mask_agrees_with_coffeas(tmp_path):
    """Our binary search over certified sections against coffea's LumiMask on 200k random
    (run, section) pairs, with adjacent and single-section ranges; overlapping ranges (which
    coffea's lookup does not expect) certify their union."""
    from coffea.lumi_tools import LumiMask

    from bumpfold.quality import load_lumi_mask  # noqa: I001

    golden = tmp_path / "golden.json"
    golden.write_text(json.dumps({"315000": [[1, 20], [21, 25], [40, 40], [60, 90]],
                                  "315001": [[5, 9]], "316000": [[1, 200]]}))
    rng = np.random.default_rng(3)
    runs = rng.choice([314999, 315000, 315001, 315002, 316000, 316001], 200_000).astype(np.uint32)
    lumis = rng.integers(1, 210, 200_000).astype(np.uint32)
    ours = load_lumi_mask(str(golden))(runs, lumis)
    assert np.array_equal(ours, LumiMask(str(golden))(runs, lumis))
    assert 0.2 < ours.mean() < 0.6
    golden.write_text(json.dumps({"7": [[60, 90], [70, 80], [85, 95]]}))
    lumis = np.arange(50, 100, dtype=np.uint32)
    certified = load_lumi_mask(str(golden))(np.full(50, 7, np.uint32), lumis)
    assert np.array_equal(certified, (lumis >= 60) & (lumis <= 95))


def test_adding_a_file_reruns_only_its_own_skim(tmp_path, pfnano):
    """The per-file jobs get their file and the dataset's cuts, not the file list: a dataset
    that grows by one file plans one new skim_file job and the merge."""
    workdir = _copy_workflow(tmp_path / "wf")
    first, second = workdir / "a.root", workdir / "b.root"
    first.write_bytes(pfnano.read_bytes())
    config = _skim_only_config({"cms": {"files": [str(first)]}})
    result = _snakemake(workdir, config, "results/skim/cms.parquet")
    assert result.returncode == 0, result.stderr[-3000:]
    second.write_bytes(pfnano.read_bytes())
    config["datasets"]["cms"]["files"].append(str(second))
    result = _snakemake(workdir, config, "results/skim/cms.parquet", "-n", "--quiet", "rules")
    rows = [line.split() for line in result.stdout.splitlines()]
    counts = {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}
    assert counts == {"skim_file": 1, "skim": 1, "total": 2}, result.stdout
