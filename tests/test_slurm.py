"""profiles/slurm on a real single-node Slurm (tests/slurm/cluster.sh starts it on loopback).

Runs only with BUMPFOLD_REQUIRE_SLURM=1 (as .ci/run sets it), since it installs slurm-wlm
and munge with apt-get where absent and starts daemons as root; then it needs root, and
fails (never skips) where it cannot run, so that CI cannot pass without it. Without the
variable it is skipped with that reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import ROOT
from tests.test_workflow import _copy_workflow, _digest, _fold_jobs_config, _snakemake, _test_config

pytestmark = pytest.mark.slow

CLUSTER = ROOT / "tests" / "slurm" / "cluster.sh"
GPU_RULES = {"train_flow", "score_anode", "unfold_generative"}


def _why_no_slurm() -> str | None:
    if sys.platform != "linux":
        return "a private Slurm cluster needs Linux"
    if os.geteuid() != 0:
        return "a private Slurm cluster needs root (slurmd launches the jobs; /etc/slurm/slurm.conf)"
    if not shutil.which("slurmctld") and not shutil.which("apt-get"):
        return "Slurm is not installed and there is no apt-get to install it"
    conf = Path("/etc/slurm/slurm.conf")
    if conf.exists() and not conf.is_symlink():
        return "this machine has a configured Slurm (/etc/slurm/slurm.conf); the test starts its own only where none is"
    return None


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    if os.environ.get("BUMPFOLD_REQUIRE_SLURM") != "1":
        pytest.skip("the real-Slurm test installs slurm-wlm and munge (apt-get) and starts daemons as root; "
                    "set BUMPFOLD_REQUIRE_SLURM=1 to run it (.ci/run does)")
    reason = _why_no_slurm()
    if reason:
        pytest.fail(f"BUMPFOLD_REQUIRE_SLURM=1, but {reason}", pytrace=False)
    state = tmp_path_factory.mktemp("slurm")
    try:
        start = subprocess.run(["bash", str(CLUSTER), "start", str(state)],
                               capture_output=True, text=True, timeout=600)
        assert start.returncode == 0, f"starting Slurm failed:\n{start.stdout}{start.stderr}"
        yield state
    finally:
        stop = subprocess.run(["bash", str(CLUSTER), "stop", str(state)], capture_output=True, text=True, timeout=120)
        assert stop.returncode == 0, f"stopping Slurm failed:\n{stop.stdout}{stop.stderr}"


def _test_profile(workdir: Path) -> str:
    """profiles/slurm as shipped (its GPU requests are opt-in, commented out: the test
    cluster has no GPU), with the first status check after 1 s instead of the plugin's 40 s
    (a private cluster may be polled often; the test's jobs are short and chained, and each
    waits for the check that sees its predecessor finish)."""
    text = (workdir / "profiles" / "slurm" / "config.yaml").read_text()
    profile = yaml.safe_load(text)
    assert not any("gres" in res for res in profile.get("set-resources", {}).values())
    assert all(f"#   {rule}: {{gres: " in text for rule in GPU_RULES)  # the documented opt-in
    profile["slurm-init-seconds-before-status-checks"] = 1
    (workdir / "profiles" / "slurm-test").mkdir()
    (workdir / "profiles" / "slurm-test" / "config.yaml").write_text(yaml.safe_dump(profile))
    return "profiles/slurm-test"


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory):
    workdir = _copy_workflow(tmp_path_factory.mktemp("wf_slurm"))
    start = time.monotonic()
    result = _snakemake(workdir, _fold_jobs_config(), "--workflow-profile", _test_profile(workdir))
    return workdir, result, time.monotonic() - start


def test_workflow_on_slurm_equals_the_local_run(slurm_run, fold_jobs_run, capsys):
    workdir, result, seconds = slurm_run
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-5000:]
    # every job but the target `all` went through sbatch, with the profile's resources
    submitted = len(re.findall(r"has been submitted with SLURM jobid \d+", out))
    assert submitted > 40 and set(re.findall(r"^localrule (\w+):", out, re.M)) == {"all"}, out[-3000:]
    train_flow = out[out.index("rule train_flow:"):]
    assert re.search(r"resources: [^\n]*mem_mb=1500,[^\n]*runtime=15", train_flow), train_flow[:800]  # the rule's
    # same tables, scores, summaries and unfolding weights as the local run
    local, local_seconds = fold_jobs_run  # the same config run locally (conftest)
    tables = sorted(p.relative_to(local) for p in local.glob("results/**/*.parquet"))
    assert len(tables) > 10 and {p.relative_to(workdir) for p in workdir.glob("results/**/*.parquet")} == set(tables)
    for name in tables:
        assert _digest(workdir / name) == _digest(local / name), name
    for stage in ("search", "bumphunt", "unfold"):
        name = f"results/{stage}/summary.json"
        assert (workdir / name).read_text() == (local / name).read_text(), name
    config = _test_config(with_pfnano=False)["unfold"]
    for m in range(config["members"]):
        name = f"results/unfold/omnifold/member{m}/iter{config['iterations']}.npz"
        with np.load(workdir / name) as a, np.load(local / name) as b:
            assert np.array_equal(a["pull_weights"], b["pull_weights"]), name
    with capsys.disabled():
        print(f"\ntest config on Slurm: {seconds:.0f} s wall ({submitted} jobs); locally on 2 cores: {local_seconds:.0f} s")


def test_failed_slurm_job_fails_the_workflow_and_shows_its_log(slurm_cluster, tmp_path, capsys):
    workdir = _copy_workflow(tmp_path / "wf")
    bad = tmp_path / "corrupt.root"
    bad.write_bytes(b"\x00garbage" * 1000)
    config = _test_config(with_pfnano=False)
    config["datasets"] = {"mine": {"files": [str(bad)]}}
    config["search"] = {"enabled": False}
    config["unfold"] = {"enabled": False}
    start = time.monotonic()
    result = _snakemake(workdir, config, "--workflow-profile", _test_profile(workdir))
    seconds = time.monotonic() - start
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    assert "Error in rule skim_file:" in out and "SLURM status is: 'FAILED'" in out, out[-3000:]
    # the file's job's log, printed by snakemake (show-failed-logs), with the job's own message
    assert "Logfile logs/skim/mine/part0.log:" in out and "corrupt.root: not a readable ROOT file" in out, out[-3000:]
    assert "Trying to restart job" in out  # the profile's retries: 1, on Slurm
    written = [p for p in (workdir / "results").rglob("*") if p.is_file()]
    assert not [p for p in written if "mine" in p.name or p.parent.name == "mine"]
    with capsys.disabled():
        print(f"\nfailing job on Slurm (retried once): {seconds:.0f} s wall")
