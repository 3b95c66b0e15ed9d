"""The whole workflow on the test config, run by Snakemake in a scratch copy."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyhf
import pytest
import yaml

from bumpfold.provenance import read_provenance
from tests.conftest import PFNANO, ROOT

WORKFLOW_PARTS = ("Snakefile", "workflow", "scripts", "config", "envs", "profiles")


def _copy_workflow(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, symlinks=False)
        else:
            shutil.copy(src, dest / part)
    return dest


def _snakemake(workdir: Path, config: dict, *extra: str) -> subprocess.CompletedProcess:
    (workdir / "run.yaml").write_text(yaml.safe_dump(config))
    return subprocess.run(
        # extra first: targets after --configfile would be read as more config files
        [sys.executable, "-m", "snakemake", "--cores", "2", *extra, "--configfile", "run.yaml"],
        cwd=workdir, capture_output=True, text=True, timeout=900,
    )


def _test_config(with_pfnano: bool) -> dict:
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    if with_pfnano:
        config["datasets"]["cms_pfnano"] = {"files": [str(PFNANO)]}
    return config


def _fold_jobs_config() -> dict:
    """The test config without the NanoAOD dataset and with a job per fold
    (search.fold_jobs), as a cluster runs it."""
    config = _test_config(with_pfnano=False)
    assert config["search"]["fold_jobs"] is False  # so that the fold-jobs run differs from finished_run
    return {**config, "search": {**config["search"], "fold_jobs": True}}


def _digest(path: Path) -> str:
    table = pd.read_parquet(path)
    return hashlib.sha256(pd.util.hash_pandas_object(table, index=False).values.tobytes()).hexdigest()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, dict]:
    workdir = _copy_workflow(tmp_path_factory.mktemp("wf1"))
    config = _test_config(with_pfnano=PFNANO.is_file())
    result = _snakemake(workdir, config)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir, config


def test_outputs_logs_and_benchmarks(finished_run):
    workdir, config = finished_run
    for dataset in config["datasets"]:
        table = pd.read_parquet(workdir / "results" / "skim" / f"{dataset}.parquet")
        assert len(table) > 0
        assert (workdir / "results" / "skim" / f"{dataset}.cutflow.json").is_file()
    assert (workdir / "results" / "plots" / "control.png").stat().st_size > 10_000
    n_chunks = sum(p["chunks"] for p in config["generation"]["processes"].values())
    assert len(list((workdir / "logs" / "generate").glob("*.log"))) == n_chunks
    assert len(list((workdir / "benchmarks" / "generate").glob("*.tsv"))) == n_chunks
    assert "wrote" in (workdir / "logs" / "generate" / "qcd_0.log").read_text()
    # the search: every method on every window and injection, with selections
    rows = json.loads((workdir / "results" / "search" / "summary.json").read_text())["rows"]
    search = config["search"]
    assert {r["method"] for r in rows} == {"cathode", "lacathode", "cwola", "anode", "iad", "supervised",
                                           "autoencoder"}
    assert len(rows) == 7 * len(search["injections"])  # each method once per injection (one window)
    for r in rows:
        assert 0.0 <= r["auc"] <= 1.0 and r["max_sic"] >= 0.0 and r["n_sr_data"] > 0
        assert 0.0 < r["closure_auc"] < 1.0
    run = workdir / "results" / "search" / f"inj{search['injections'][0]}" / "sr3300_3700"
    assert (run / "roc_sic.png").is_file() and (run / "flow.pt").is_file()
    assert set(json.loads((run / "selection" / "cathode.json").read_text())["thresholds"]) == {"0.3", "0.1", "0.02"}
    # the bump hunt: CATHODE selections and the inclusive spectrum, numbers or a stated failure
    bumphunt = workdir / "results" / "bumphunt"
    rows = json.loads((bumphunt / "summary.json").read_text())["rows"]
    assert {r["selection"] for r in rows} == {"lacathode", "inclusive"}
    assert {r["efficiency"] for r in rows} == {"0.3", "0.1", "0.02", "1"}
    for r in rows:  # limits in fb, or in events only where the selection keeps too little signal MC
        assert (r["status"] == "ok" and r["limit_obs_events"] > 0 and (
            r["limit_obs_fb"] > 0 if r["template"] == "selected" else r["limit_obs_fb"] is None)) or (
            r["status"].startswith("failed: ") and "limit_obs_fb" not in r), r
    ok = [r for r in rows if r["status"] == "ok"]
    assert any(r["selection"] == "inclusive" for r in ok) and any(r["selection"] == "lacathode" for r in ok)
    assert all(r["luminosity_fb"] > 0 and r["limit_exp_events"] == sorted(r["limit_exp_events"]) for r in ok)
    for r in ok:
        ws = bumphunt / f"inj{r['injection']}" / r["window"] / "workspaces" / r["selection"]
        spec = json.loads((ws / f"eff{r['efficiency']}_{r['signal_model']}.json").read_text())
        assert pyhf.Workspace(spec).model().config.poi_name == "mu"
        # selections keep their efficiency outside the window at every m_jj (quantile-regression
        # thresholds, the default) and need no simulation-based sculpting correction
        assert "sculpting_correction" not in pyhf.Workspace(spec).model().config.parameters
        if r["selection"] != "inclusive":
            assert r["threshold_fit"]["kind"] == "quantile_regression", r
            assert abs(r["fraction_selected_outside_window"] - float(r["efficiency"])) < 0.02, r
    assert "| 150 | wprime_3500_500_100 | sr3300_3700 |" in (bumphunt / "limits.md").read_text()
    for name in ("limits.png", "significance.png", "inj150/sr3300_3700/lacathode.png"):
        assert (bumphunt / name).stat().st_size > 10_000
    # the unfolding: every member's iterations as jobs, IBU, the metrics of each method
    unfold = config["unfold"]
    summary = json.loads((workdir / "results" / "unfold" / "summary.json").read_text())
    assert set(summary["observables"]) == {"mass", "multiplicity", "tau21", "tau32", "msoftdrop", "pt"}
    assert (summary["members"], summary["iterations"]) == (unfold["members"], unfold["iterations"])
    td = {method: sum(o["metrics"][method]["triangular_discriminator_1e3"] for o in summary["observables"].values())
          for method in ("prior", "omnifold", "ibu")}
    assert td["omnifold"] < td["prior"] and td["ibu"] < td["prior"], td  # unfolding moves towards the truth
    for o in summary["observables"].values():
        assert abs(sum(o["omnifold"]) - 1) < 1e-9 and len(o["convergence"]["omnifold"]) == unfold["iterations"]
        assert set(o["metrics"]) == {"prior", "omnifold", "ibu", "generative"} and abs(sum(o["generative"]) - 1) < 1e-9
    for m in range(unfold["members"]):
        for i in range(1, unfold["iterations"] + 1):
            assert (workdir / f"benchmarks/omnifold_iteration/member{m}_iter{i}.tsv").is_file()
    for name in ("unfolded.png", "convergence.png"):
        assert (workdir / "results" / "unfold" / name).stat().st_size > 10_000
    # every figure also as a PDF, from the same figure
    pngs = sorted((workdir / "results").rglob("*.png"))
    assert len(pngs) >= 7
    for png in pngs:
        assert png.with_suffix(".pdf").read_bytes().startswith(b"%PDF"), png
    # the headline page gathers every stage
    page = (workdir / "results" / "summary.md").read_text()
    for heading in ("## Anomaly search", "## Bump hunt", "## Unfolding", "<!-- provenance: bumpfold workflow at git"):
        assert heading in page, heading


def test_final_outputs_record_their_provenance(finished_run):
    workdir, config = finished_run
    results = workdir / "results"
    stamped = [results / "search" / "summary.json", results / "bumphunt" / "summary.json",
               results / "unfold" / "summary.json", results / "skim" / "qcd.cutflow.json",
               results / "skim" / "qcd.parquet", results / "plots" / "control.png", results / "unfold" / "unfolded.png",
               results / "bumphunt" / "limits.pdf",
               results / "search" / "inj150" / "sr3300_3700" / "selection" / "cathode.parquet"]
    records = [read_provenance(path) for path in stamped]
    for record in records:
        assert record["seed"] == config["seed"] == record["config"]["seed"]
        assert record["config"]["search"]["n_folds"] == config["search"]["n_folds"]
        assert record["config"]["search"]["flow"]["learning_rate"] > 0  # a default the config leaves out
        assert record["packages"]["torch"] != "not installed" and record["packages"]["bumpfold"]
        assert record["git_commit"] == "unknown (not a git checkout)"  # the scratch copy is no checkout
    assert f"seed {config['seed']}" in (results / "bumphunt" / "limits.md").read_text().split("<!-- provenance:")[1]


def _report_html(workdir: Path, *targets: str) -> str:
    result = subprocess.run([sys.executable, "-m", "snakemake", *targets, "--report", "results/report.html",
                             "--configfile", "run.yaml"], cwd=workdir, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return (workdir / "results" / "report.html").read_text()


def _caption_opening(caption: Path) -> str:
    return " ".join(caption.read_text().split()[:4])


def test_report_renders_every_captioned_result(finished_run):
    """Every caption but the toys' and the injection scan's (their tests check those)."""
    workdir, config = finished_run
    html = _report_html(workdir)
    captions = [c for c in sorted((ROOT / "workflow" / "report").glob("*.rst"))
                if not c.name.startswith(("toys", "injection_limits"))]
    assert len(captions) >= 10
    for caption in captions:  # each caption's opening words appear in the report
        assert _caption_opening(caption) in html, caption.name


def test_nothing_to_do_on_rerun(finished_run):
    workdir, config = finished_run
    result = _snakemake(workdir, config, "-n")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_changing_a_skim_cut_reruns_only_the_skim(finished_run):
    workdir, config = finished_run
    changed = {**config, "skim": {"leading_pt_min": 1300.0}}
    result = _snakemake(workdir, changed, "-n")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-2000:]
    assert re.search(r"^skim\s+\d+", out, re.M), out[-2000:]
    assert not re.search(r"^generate\s+\d+", out, re.M), out[-2000:]
    # a search key reruns only the steps that read it
    changed = {**config, "search": {**config["search"], "oversampling": 3.0}}
    out = _snakemake(workdir, changed, "-n").stdout
    assert re.search(r"^sample_sr\s+\d+", out, re.M), out[-2000:]
    assert not re.search(r"^(train_flow|search_datasets|generate|skim)\s+\d+", out, re.M), out[-2000:]
    # a bump-hunt selection added runs its own jobs and refits no finished window of another
    assert "bumphunt" not in config  # the schema's default selections: [lacathode]
    out = _snakemake(workdir, {**config, "bumphunt": {"methods": ["lacathode", "cwola"]}}, "-n").stdout
    fits = re.findall(r"output: results/bumphunt/inj[^/]+/[^/]+/(\w+)\.json", out)
    assert fits and set(fits) == {"cwola"}, out[-3000:]


def test_same_seed_same_tables(finished_run, fold_jobs_run):
    workdir, config = finished_run
    # the test config trains a method's folds in one job (rule score_folds); the second run
    # (shared with the Slurm test) a job per fold (score_fold), without the NanoAOD dataset:
    # the same scores
    again, _ = fold_jobs_run
    config = {**config, "datasets": {k: v for k, v in config["datasets"].items() if "process" in v}}
    for dataset in config["datasets"]:
        name = f"results/skim/{dataset}.parquet"
        assert _digest(workdir / name) == _digest(again / name)
    # same seed, same anomaly scores and the same summary, on CPU
    for name in ("results/search/inj150/sr3300_3700/scores/cathode.parquet",
                 "results/search/inj150/sr3300_3700/scores/lacathode.parquet",
                 "results/search/inj150/sr3300_3700/scores/anode.parquet"):
        assert _digest(workdir / name) == _digest(again / name)
    # the same summary; the provenance differs only by the first run's extra NanoAOD dataset
    first, second = (json.loads((d / "results/search/summary.json").read_text()) for d in (workdir, again))
    assert first["rows"] == second["rows"]
    assert {k: v for k, v in first["provenance"].items() if k not in ("config", "config_sha256")} == {
        k: v for k, v in second["provenance"].items() if k not in ("config", "config_sha256")}
    # and the same unfolding weights
    last = config["unfold"]["iterations"]
    for m in range(config["unfold"]["members"]):
        name = f"results/unfold/omnifold/member{m}/iter{last}.npz"
        with np.load(workdir / name) as a, np.load(again / name) as b:
            assert np.array_equal(a["pull_weights"], b["pull_weights"])


def _kill_during_training(workdir: Path, config: dict) -> None:
    """Start the workflow and SIGKILL it, jobs and all (as a lost node would), while the
    sideband-flow job works: its log is open (the script has imported its libraries and
    started) and its model is not written yet; that lasts 1-2 s with the test config."""
    (workdir / "run.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "run.yaml"],
                            cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    log = workdir / "logs" / "train_flow" / "inj150_sr3300_3700.log"
    model = workdir / "results" / "search" / "inj150" / "sr3300_3700" / "flow.pt"
    try:
        deadline = time.monotonic() + 600
        while not log.is_file():
            assert proc.poll() is None and time.monotonic() < deadline, "the workflow ended before training"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not model.exists(), "training finished before the kill: nothing was interrupted"


def test_a_killed_run_resumes_and_ends_as_an_uninterrupted_one(finished_run, tmp_path):
    workdir, config = finished_run
    config = {**config, "datasets": {k: v for k, v in config["datasets"].items() if "process" in v}}
    killed = _copy_workflow(tmp_path / "killed")
    _kill_during_training(killed, config)
    done = {p: p.stat().st_mtime_ns for p in (killed / "results" / "samples").rglob("*.root")}
    assert done, "no generation job had finished"
    # a killed Snakemake leaves its lock behind: unlock, then the same command again
    assert _snakemake(killed, config, "--unlock").returncode == 0
    result = _snakemake(killed, config)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert re.search(r"^train_flow\s+1$", out, re.M), out[-3000:]  # the interrupted job is redone ...
    assert not re.search(r"^search_datasets\s+\d+", out, re.M), out[-3000:]  # ... finished ones are not
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in done.items())
    for name in ("results/skim/qcd.parquet", "results/search/inj150/sr3300_3700/scores/cathode.parquet",
                 "results/search/inj150/sr3300_3700/scores/anode.parquet"):
        assert _digest(workdir / name) == _digest(killed / name), name
    first, resumed = (json.loads((d / "results/bumphunt/summary.json").read_text())["rows"] for d in (workdir, killed))
    assert first == resumed


def test_lint_is_clean_and_every_rule_has_a_log_and_a_benchmark(tmp_path):
    workdir = _copy_workflow(tmp_path / "wf")
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=workdir, capture_output=True,
                            text=True, timeout=300)
    out = result.stdout + result.stderr
    assert result.returncode == 0 and "Congratulations, your workflow is in a good condition!" in out, out[-3000:]
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            name = block.split(":", 1)[0]
            assert "\n    log:" in block and "\n    benchmark:" in block, f"{smk.name}: rule {name}"


def test_a_configfile_replaces_the_default_and_config_edits_it(tmp_path):
    """In the main process and (the same Snakefile code) in every cluster job alike."""
    workdir = _copy_workflow(tmp_path / "wf")
    default = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["generation"]["processes"]

    def generate_jobs(*args: str) -> int:
        result = subprocess.run([sys.executable, "-m", "snakemake", "-n", *args], cwd=workdir, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        return int(re.search(r"^generate\s+(\d+)", result.stdout, re.M).group(1))

    assert generate_jobs("--config", "seed=5") == sum(p["chunks"] for p in default.values())
    (workdir / "run.yaml").write_text(yaml.safe_dump(_test_config(with_pfnano=False)))
    test = _test_config(with_pfnano=False)["generation"]["processes"]
    assert generate_jobs("--configfile", "run.yaml") == sum(p["chunks"] for p in test.values())


def test_bad_config_key_stops_before_any_job(tmp_path):
    workdir = _copy_workflow(tmp_path / "wf")
    config = _test_config(with_pfnano=False)
    config["skim"] = {"leading_pt_mni": 1000.0}
    result = _snakemake(workdir, config)
    assert result.returncode != 0
    assert "config key 'skim.leading_pt_mni': unknown key" in result.stdout + result.stderr
    assert not (workdir / "results").exists()


def test_injection_larger_than_the_signal_fails_cleanly(finished_run, tmp_path):
    workdir, config = finished_run
    config = {**config, "search": {**config["search"], "injections": [100000]}}
    result = _snakemake(workdir, config)
    assert result.returncode != 0
    # the numbers rule it out before any job (issue 20): the config check says so, no job ran
    assert "config key 'search.injections': 100000 signal events" in result.stderr
    assert not (workdir / "logs" / "search_datasets" / "inj100000.log").exists()
    assert not (workdir / "results" / "search" / "inj100000").exists()


def test_bad_input_file_fails_job_without_partial_output(tmp_path):
    workdir = _copy_workflow(tmp_path / "wf")
    bad = tmp_path / "corrupt.root"
    bad.write_bytes(b"\x00garbage" * 1000)
    config = _test_config(with_pfnano=False)
    config["generation"]["processes"] = {"qcd": {"kind": "qcd", "events_per_chunk": 20, "chunks": 1}}
    config["datasets"] = {"mine": {"files": [str(bad)]}}
    config["search"] = {"enabled": False}
    config["unfold"] = {"enabled": False}
    result = _snakemake(workdir, config)
    assert result.returncode != 0
    log = (workdir / "logs" / "skim" / "mine" / "part0.log").read_text()  # the file's own job
    assert "corrupt.root: not a readable ROOT file" in log
    written = [p for p in (workdir / "results").rglob("*") if p.is_file()]
    assert not [p for p in written if "mine" in p.name or p.parent.name == "mine"]


def _as_lhco_features(root_files: list[Path], path: Path) -> Path:
    """Generated events in the LHC Olympics features format, truth as 'label'."""
    from bumpfold.io.lhco import lhco_frame_from_nanoaod

    lhco_frame_from_nanoaod(root_files).to_hdf(path, key="df", format="fixed")
    return path


def test_an_lhco_rd_format_file_runs_the_search(finished_run, tmp_path):
    """The LHC Olympics R&D protocol on a file in that format (made of the finished run's
    generated events): its label-0 events are the background, its label-1 events the signal
    to inject, through skim, flow, samples, classifiers and evaluation."""
    workdir, config = finished_run
    samples = sorted((workdir / "results" / "samples").glob("*/chunk*.root"))
    lhco = _as_lhco_features([p for p in samples if p.parent.name in ("qcd", "wprime_3500_500_100")],
                             tmp_path / "events_anomalydetection_v2.features.h5")
    run = _copy_workflow(tmp_path / "wf")
    lhco_config = {**config, "datasets": {"rd_bkg": {"lhco": str(lhco), "label": 0},
                                          "rd_sig": {"lhco": str(lhco), "label": 1}},
                   "search": {**config["search"], "background": "rd_bkg", "signal": "rd_sig", "injections": [100]},
                   "bumphunt": {"enabled": False}, "unfold": {"enabled": False}}
    result = _snakemake(run, lhco_config)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rule generate" not in result.stdout + result.stderr  # nothing generated: the file is the input
    cutflow = json.loads((run / "results" / "skim" / "rd_bkg.cutflow.json").read_text())
    assert cutflow["label"] == 0 and cutflow["files"] == [str(lhco)]
    metrics = json.loads((run / "results" / "search" / "inj100" / "sr3300_3700" / "metrics.json").read_text())
    assert metrics["methods"]["cathode"]["n_signal_sr_true"] > 30  # the injected label-1 events, in the SR
    assert 0.3 < metrics["interpolation_auc"] < 0.8


def test_toys_repeat_the_whole_chain_on_disjoint_background(finished_run, tmp_path):
    """Two background-only toys, each half of the QCD skim: only toy jobs run (the finished
    run's skims are reused), the toys share no event, and the summary gathers every toy's
    bump hunt. (An injected toy is its background-only toy plus the signal: test_toys.py.)"""
    workdir, config = finished_run
    run = tmp_path / "toys"
    shutil.copytree(workdir, run, symlinks=True)  # keeps mtimes and .snakemake: nothing done reruns
    toys_config = {**config, "toys": {"n_toys": 2}, "search": {**config["search"], "n_folds": 2}}
    result = _snakemake(run, toys_config, "results/toys/summary.json")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    for rule in ("generate", "skim_file", "skim"):
        assert not re.search(rf"^{rule}\s+\d+", out, re.M), out[-3000:]
    assert re.search(r"^search_datasets\s+2$", out, re.M), out[-3000:]
    qcd = pd.read_parquet(run / "results/skim/qcd.parquet")
    toys = {label: pd.read_parquet(run / f"results/search/inj{label}/datasets.parquet")
            for label in ("0_toy0", "0_toy1")}
    background = {label: t[(t.role == "data") & (t.is_signal == 0)] for label, t in toys.items()}
    columns = ["mjj", *config["search"].get("features", ["mj_low", "delta_mj", "tau21_low", "tau21_high"])]
    keys = {label: set(map(tuple, b[columns].to_numpy())) for label, b in background.items()}
    assert len(background["0_toy0"]) == len(background["0_toy1"]) == len(qcd) // 2
    assert not keys["0_toy0"] & keys["0_toy1"]  # no event in two toys
    assert not (toys["0_toy0"].role.isin(["test", "ideal"]) & (toys["0_toy0"].is_signal == 0)).any()
    assert ((toys["0_toy0"].role == "data") & (toys["0_toy0"].is_signal == 1)).sum() == 0  # background only
    summary = json.loads((run / "results/toys/summary.json").read_text())
    assert summary["n_toys"] == 2
    selections = {(r["selection"], r["efficiency"]) for r in summary["local_z"]}
    assert ("inclusive", "1") in selections and {s for s, _ in selections} == {"inclusive", "lacathode"}
    for r in summary["local_z"]:
        assert r["n"] + r["n_failed"] == 2, r  # every toy: a significance or a stated failure
    rows = json.loads((run / "results/bumphunt/inj0_toy1/sr3300_3700/inclusive.json").read_text())["rows"]
    assert {(r["injection"], r["toy"], r["luminosity_fb"]) for r in rows} == {(0, 1, None)}  # in events
    assert "# Whole-chain pseudo-experiments" in (run / "results/toys/toys.md").read_text()
    for name in ("local_z.png", "linearity.png"):
        assert (run / "results/toys" / name).stat().st_size > 10_000
    html = _report_html(run, "results/toys/summary.json")
    for caption in sorted((ROOT / "workflow" / "report").glob("toys*.rst")):
        assert _caption_opening(caption) in html, caption.name


def test_an_injection_scan_sets_case_limits_with_signal_systematics(finished_run, tmp_path):
    """CASE's procedure at tiny scale: the signal injected at two sizes into the background of
    the run without injection, the search rerun in its window, and the excluded cross section
    where the injected signal would be excluded; the inclusive selection's is its ordinary limit.
    Beside it the signal's jet energy scale +-5 % by reprocessing the same generated events,
    and a luminosity uncertainty, in the pyhf model of the run without injection."""
    workdir, config = finished_run
    run = tmp_path / "scan"
    shutil.copytree(workdir, run, symlinks=True)  # the finished run's skims are reused
    model = "wprime_3500_500_100"
    scan_config = {**config, "search": {**config["search"], "injections": [0], "n_folds": 2, "methods": ["cathode"]},
                   "bumphunt": {"methods": ["cathode"], "signal_models": [model],
                                "injection_limits": {"injections": [100, 200]}, "luminosity_uncertainty": 0.016,
                                "signal_systematics": {"jes": {
                                    "up": {"calo_energy_scale": 1.05, "track_pt_scale": 1.05},
                                    "down": {"calo_energy_scale": 0.95, "track_pt_scale": 0.95}}}},
                   "unfold": {"enabled": False}}
    result = _snakemake(run, scan_config, "results/limits/summary.json")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert re.search(r"^search_datasets\s+3$", out, re.M), out[-3000:]  # runs 0, 100-<model>, 200-<model>
    tables = {label: pd.read_parquet(run / f"results/search/inj{label}/datasets.parquet")
              for label in ("0", f"100-{model}", f"200-{model}")}
    background = {label: t[(t.role == "data") & (t.is_signal == 0)].reset_index(drop=True)
                  for label, t in tables.items()}
    for label in (f"100-{model}", f"200-{model}"):
        pd.testing.assert_frame_equal(background[label], background["0"])  # the same data, only signal added
    assert [int(((t.role == "data") & (t.is_signal == 1)).sum()) for t in tables.values()] == [0, 100, 200]
    summary = json.loads((run / "results/limits/summary.json").read_text())
    limits = {(lim["selection"], lim["efficiency"]): lim for lim in summary["limits"]}
    inclusive = limits[("inclusive", "1")]
    base = next(r for r in json.loads((run / "results/bumphunt/inj0/sr3300_3700/inclusive.json").read_text())["rows"])
    assert inclusive["observed"]["sigma_fb"] == pytest.approx(
        base["limit_obs_events"] / (base["luminosity_fb"] * base["signal_window_efficiency"]))
    scanned = [lim for (selection, _), lim in limits.items() if selection == "cathode"]
    assert scanned, summary["failed"]
    for lim in scanned:
        sigmas = [p["sigma_fb"] for p in lim["scan"]]
        assert sigmas[0] == 0 and sigmas[1] > 0 and sigmas[2] == pytest.approx(2 * sigmas[1])
        crossing = lim["observed"]
        assert (crossing["sigma_fb"] is not None and crossing["sigma_fb"] > 0) or \
            crossing["note"].startswith("not excluded up to"), lim
    assert "# Limits from injection scans" in (run / "results/limits/limits.md").read_text()
    for name in ("limits.png", "scenarios.png"):
        assert (run / "results/limits" / name).stat().st_size > 10_000
    html = _report_html(run, "results/limits/summary.json")
    for caption in sorted((ROOT / "workflow" / "report").glob("injection_limits*.rst")):
        assert _caption_opening(caption) in html, caption.name
    # the same events reprocessed: m_jj moves with the scale, event for event about 5 %
    nominal = pd.read_parquet(run / f"results/skim/{model}.parquet").mjj.median()
    for variation, (low, high) in (("jes_up", (1.03, 1.07)), ("jes_down", (0.93, 0.97))):
        varied = pd.read_parquet(run / f"results/skim/{model}__{variation}.parquet").mjj.median()
        assert low < varied / nominal < high, (variation, varied / nominal)
    rows = json.loads((run / "results/bumphunt/inj0/sr3300_3700/cathode.json").read_text())["rows"]
    ok = [r for r in rows if r["status"] == "ok" and r["template"] == "selected"]
    assert ok, [r["status"] for r in rows]
    for r in ok:
        up, down = r["signal_systematics"]["jes"]
        assert up != down, r["signal_systematics"]
        spec = json.loads((run / f"results/bumphunt/inj0/sr3300_3700/workspaces/cathode/eff{r['efficiency']}_{model}"
                                 ".json").read_text())
        modifiers = {m["name"]: m["type"] for m in spec["channels"][0]["samples"][0]["modifiers"]}
        assert modifiers == {"mu": "normfactor", "signal_jes": "histosys", "luminosity": "normsys"}
    scan_rows = json.loads((run / f"results/bumphunt/inj100-{model}/sr3300_3700/cathode.json").read_text())["rows"]
    assert all("signal_systematics" not in r for r in scan_rows)  # the injected model: not applied


def test_a_black_box_runs_blind_to_limits_in_events(finished_run, tmp_path):
    """An LHC Olympics black box (no label; made of the finished run's QCD with some of its
    signal mixed in): search, selection and bump hunt with no truth read anywhere, IAD and the
    supervised classifier skipped for lack of simulation, nothing evaluated against truth,
    and limits in signal events since the file declares no luminosity."""
    workdir, config = finished_run
    samples = sorted((workdir / "results" / "samples").glob("*/chunk*.root"))
    box = _as_lhco_features([p for p in samples if p.parent.name in ("qcd", "wprime_3500_500_100")],
                            tmp_path / "box.h5")
    frame = pd.read_hdf(box)
    signal = frame[frame.label == 1]
    frame = pd.concat([frame[frame.label == 0], signal.iloc[:150]]).drop(columns="label")  # truth gone
    frame.sample(frac=1.0, random_state=1).to_hdf(box, key="df", format="fixed")
    run = _copy_workflow(tmp_path / "wf")
    box_config = {**config, "datasets": {"box": {"lhco": str(box)},
                                         "wprime_3500_500_100": {"process": "wprime_3500_500_100"}},
                  "search": {**config["search"], "data": "box", "background": None, "signal": None,
                             "injections": [0]},
                  # the correction asked for, with no background simulation to measure it on
                  "bumphunt": {"methods": ["cathode"], "signal_models": ["wprime_3500_500_100"],
                               "sculpting_correction": True},
                  "unfold": {"enabled": False}}
    result = _snakemake(run, box_config)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run / "results" / "search" / "summary.json").read_text())
    assert summary["skipped"] == {"iad": "no background simulation", "supervised": "no background or signal simulation"}
    assert {r["method"] for r in summary["rows"]} == {"cathode", "lacathode", "cwola", "anode", "autoencoder"}
    assert all(r["status"] == "no truth: not evaluated" and r["s_over_b"] is None for r in summary["rows"])
    datasets = pd.read_parquet(run / "results" / "search" / "inj0" / "datasets.parquet")
    assert set(datasets.role) == {"data"} and (datasets.is_signal == -1).all()
    rows = json.loads((run / "results" / "bumphunt" / "summary.json").read_text())["rows"]
    ok = [r for r in rows if r["status"] == "ok"]
    assert ok and all(r["limit_obs_fb"] is None and r["limit_obs_events"] > 0 for r in ok)
    assert all(r["n_signal_true_window"] is None for r in rows)  # unknown in observed data, not 0
    assert all(r["sculpting"] == "not applied: no background simulation" for r in rows if r["selection"] == "cathode")
    # the thresholds need no simulation: fitted in m_jj on the data outside the window
    assert any(r["threshold_fit"]["kind"] == "quantile_regression" for r in ok if r["selection"] == "cathode")
    page = (run / "results" / "summary.md").read_text()
    assert "no truth" in page and "limits in signal events only" in page and "0.00%" not in page


@pytest.mark.parametrize(("name", "jobs"), [("lhco_rd", {"skim": 2, "train_flow": 2, "generate": None}),
                                             ("lhco_blackbox", {"skim": 4, "generate": 6, "bumphunt_window": 15})])
def test_the_lhc_olympics_configs_plan(tmp_path, name, jobs):
    """Each LHC Olympics config plans its jobs once its file sits where the config says."""
    from tests.test_lhco import make_frame

    workdir = _copy_workflow(tmp_path / "wf")
    (workdir / "data").mkdir()
    frame = make_frame(400)
    frame.to_hdf(workdir / "data" / "events_anomalydetection_v2.features.h5", key="df", format="fixed")
    frame.drop(columns="label").to_hdf(workdir / "data" / "events_LHCO2020_BlackBox1.features.h5", key="df",
                                       format="fixed")
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", f"config/{name}.yaml"],
                            cwd=workdir, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    for rule, count in jobs.items():
        found = re.search(rf"^{rule}\s+(\d+)", result.stdout, re.M)
        assert (None if found is None else int(found.group(1))) == count, (rule, result.stdout[-2000:])
