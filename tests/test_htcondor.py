"""profiles/htcondor without an HTCondor pool (docs/cluster.md, "HTCondor").

No pool can run here: the HTCondor daemons are neither in the `htcondor` wheel (Python
bindings only) nor in Debian 12's archive (see docs/cluster.md). So Snakemake runs with the
real executor plugin and the real HTCondor bindings, and only the schedd, the network
boundary, is a recording stand-in (tests/htcondor/fake_schedd.py): the plugin itself builds
each submit description and reads each job's state (from the HTCondor event log, or from the
queue) unchanged. What a real pool would add (matchmaking, the site's policies, a shared
file system across nodes) is not tested.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.test_workflow import _copy_workflow, _test_config

PROFILE = ROOT / "profiles" / "htcondor" / "config.yaml"
FAKE_SCHEDD = ROOT / "tests" / "htcondor" / "fake_schedd.py"
# the test config's first search window (regions from the schema's defaults)
WINDOW = "sr3300_3700"
SAMPLE_SR = f"results/search/inj150/{WINDOW}/samples.parquet"


@pytest.fixture(scope="module", autouse=True)
def _plugin_installed():
    """The plugin is an opt-in extra: skipped without it, except where BUMPFOLD_REQUIRE_HTCONDOR=1
    (.ci/run installs the extra and sets it), where a missing plugin fails."""
    if importlib.util.find_spec("snakemake_executor_plugin_htcondor") is not None:
        return
    message = "snakemake-executor-plugin-htcondor is missing: pip install -e '.[htcondor]'"
    if os.environ.get("BUMPFOLD_REQUIRE_HTCONDOR") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message + " (set BUMPFOLD_REQUIRE_HTCONDOR=1 to make its absence a failure)")


def _profile() -> dict:
    return yaml.safe_load(PROFILE.read_text())


def _requests(profile: dict, rule: str) -> tuple[int, int]:
    """(request_memory in MB, +MaxRuntime in s) the profile asks HTCondor for, for a rule."""
    resources = {**profile["default-resources"], **profile.get("set-resources", {}).get(rule, {})}
    return int(resources["htcondor_request_mem_mb"]), int(resources["classad_MaxRuntime"])


def _run(workdir: Path, outcome: str, *args: str,
         config: dict | None = None) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """Snakemake through profiles/htcondor with the fake schedd; returns the run and the
    submissions it made (in order)."""
    (workdir / "run.yaml").write_text(yaml.safe_dump(config or _test_config(with_pfnano=False)))
    state = workdir / "fake_schedd"
    state.mkdir()
    env = {**os.environ, "CONDOR_CONFIG": "/dev/null"}  # no pool configured (quiets the bindings)
    result = subprocess.run(
        [sys.executable, str(FAKE_SCHEDD), str(state), outcome, *args, "--workflow-profile", "profiles/htcondor",
         "--seconds-between-status-checks", "1", "--configfile", "run.yaml"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    submissions = [json.loads((state / f"submit-{n}.json").read_text())
                   for n in range(len(list(state.glob("submit-*.json"))))]
    return result, submissions


def test_every_rule_declares_no_more_than_the_profile_requests():
    """The plugin maps threads only: memory and run time come from the profile's
    htcondor_request_mem_mb / classad_MaxRuntime, which must cover what each rule declares
    (literal values here; run times computed per job, as generate's, in the next test)."""
    profile = _profile()
    assert profile["executor"] == "htcondor"
    declared = {}
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^(?=(?:rule|checkpoint) \w+:)", smk.read_text(), flags=re.M)[1:]:
            rule = re.match(r"\w+ (\w+):", block).group(1)
            mem, runtime = re.search(r"mem_mb=(\d+)", block), re.search(r"runtime=(\d+)\s*,", block)
            declared[rule] = (int(mem.group(1)) if mem else 0, int(runtime.group(1)) if runtime else 0)
    assert {"sample_sr", "generate", "skim"} <= set(declared)
    for rule, (mem_mb, runtime) in declared.items():
        memory, max_runtime = _requests(profile, rule)
        assert memory >= mem_mb, f"{rule}: mem_mb={mem_mb}, profile requests {memory} MB"
        assert max_runtime >= 60 * runtime, f"{rule}: runtime={runtime} min, profile's MaxRuntime {max_runtime} s"
    assert set(profile["set-resources"]) <= set(declared), "set-resources names a rule that does not exist"


def test_the_benchmark_plans_within_the_requests(tmp_path):
    """`snakemake --workflow-profile profiles/htcondor -n` on the benchmark config plans, and
    every job's evaluated resources (as the plugin will read them) stay within its requests."""
    workdir = _copy_workflow(tmp_path / "wf")
    config = yaml.safe_load((ROOT / "config" / "benchmark.yaml").read_text())
    (workdir / "run.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run([sys.executable, "-m", "snakemake", "--workflow-profile", "profiles/htcondor", "-n",
                             "--configfile", "run.yaml"], cwd=workdir, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = re.findall(r"^rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", result.stdout + result.stderr, flags=re.M)
    assert len(jobs) > 300 and {"generate", "skim", "sample_sr", "score_fold"} <= {rule for rule, _ in jobs}
    for rule, line in jobs:
        resources = dict(item.split("=", 1) for item in line.split(", "))
        assert int(resources["htcondor_request_mem_mb"]) >= int(resources["mem_mb"]), (rule, line)
        assert int(resources["classad_MaxRuntime"]) >= 60 * int(resources["runtime"]), (rule, line)
        assert resources["getenv"] == "PATH", (rule, line)


def test_submit_description_of_a_job_and_its_failure(tmp_path):
    """One real job (sample_sr: mem_mb 3000, threads set to 2) as the plugin submits it, then
    failing on the pool (exit code 1 in HTCondor's event log): resubmitted once (retries: 1),
    then the workflow fails with HTCondor's cluster id and the rule's log path."""
    workdir = _copy_workflow(tmp_path / "wf")
    for path in ("results/search/inj150/datasets.parquet", f"results/search/inj150/{WINDOW}/flow.pt"):
        (workdir / path).parent.mkdir(parents=True, exist_ok=True)
        (workdir / path).touch()  # the job's inputs; it never runs
    result, submissions = _run(workdir, "exit:1", SAMPLE_SR, "--set-threads", "sample_sr=2")
    output = result.stdout + result.stderr
    assert len(submissions) == 2 and [s["cluster"] for s in submissions] == [101, 102], output[-3000:]
    submit = submissions[0]["description"]
    assert submit["request_cpus"] == "2"                      # threads
    assert submit["request_memory"] == "3000MB"               # set-resources: sample_sr
    assert submit["MY.MaxRuntime"] == "3600"                  # +MaxRuntime (CERN's limit), set-resources: sample_sr
    assert submit["getenv"] == "PATH"
    assert submit["batch_name"] == "sample_sr-0"
    # shared file system: no transfer, the job runs this Python in the submit directory (iwd)
    assert "should_transfer_files" not in submit and "transfer_input_files" not in submit
    assert submissions[0]["cwd"] == str(workdir)
    assert submit["executable"] == sys.executable
    assert submit["arguments"].startswith("-m snakemake ")
    assert f"--target-jobs sample_sr:injection=150,window={WINDOW}" in submit["arguments"]
    assert f"--configfiles {workdir / 'run.yaml'}" in submit["arguments"]
    assert submit["log"] == ".snakemake/htcondor/snakemake-rules.log"
    assert submit["error"] == ".snakemake/htcondor/sample_sr/sample_sr-0_$(ClusterId).err"
    # the failure
    assert result.returncode != 0
    for cluster in (101, 102):
        assert f"Job 0 with HTCondor Cluster ID {cluster} completed but failed with ExitCode 1." in output
    assert f"log: logs/sample_sr/inj150_{WINDOW}.log (check log file(s) for error details)" in output
    assert not (workdir / SAMPLE_SR).exists()


def test_a_held_job_fails_after_the_held_timeout(tmp_path):
    """A job the pool holds (found in the queue, the plugin's fallback when no event log is
    written), held longer than the profile's htcondor-held-timeout: the workflow fails with
    the hold reason, and the plugin leaves the held job in the queue (no remove action)."""
    assert _profile()["htcondor-held-timeout"] < 3600  # the fake job has been held for an hour
    workdir = _copy_workflow(tmp_path / "wf")
    for path in ("results/search/inj150/datasets.parquet", f"results/search/inj150/{WINDOW}/flow.pt"):
        (workdir / path).parent.mkdir(parents=True, exist_ok=True)
        (workdir / path).touch()
    reason = "Error from slot1@node: memory usage exceeded request_memory"
    result, submissions = _run(workdir, f"held:{reason}", SAMPLE_SR, "--retries", "0")
    output = result.stdout + result.stderr
    assert result.returncode != 0 and len(submissions) == 1, output[-3000:]
    assert "Job 0 with HTCondor Cluster ID 101 has been held for 1.0 hours" in output
    assert f"Hold reason: {reason}" in output
    actions = (workdir / "fake_schedd" / "queries.log").read_text().splitlines()
    assert "query ClusterId == 101" in actions and not any(a.startswith("act") for a in actions)


def test_a_job_runs_from_its_submit_description_alone(tmp_path):
    """The fake pool runs a submitted generate job as HTCondor would on a node sharing the
    submit host's files: executable + arguments in the iwd, only the environment getenv
    imports. The chunk is produced and the workflow succeeds (without getenv = PATH the
    job's Snakemake stops with KeyError: 'PATH')."""
    workdir = _copy_workflow(tmp_path / "wf")
    config = _test_config(with_pfnano=False)
    # the fewest events the test config's injection (150 of the half kept for injection) allows
    config["generation"]["processes"]["wprime_3500_500_100"]["events_per_chunk"] = 300
    target = "results/samples/wprime_3500_500_100/chunk0.root"
    result, submissions = _run(workdir, "run", target, config=config)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert (workdir / target).stat().st_size > 0
    submit = submissions[0]["description"]
    assert (len(submissions), submit["request_cpus"], submit["request_memory"]) == (1, "1", "2000MB")
    assert (workdir / ".snakemake" / "htcondor" / "generate" / "generate-0_101.err").is_file()
