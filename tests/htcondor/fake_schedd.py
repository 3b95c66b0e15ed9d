"""Run Snakemake with HTCondor's Schedd replaced by a recording stand-in (tests/test_htcondor.py).

    python tests/htcondor/fake_schedd.py STATE_DIR OUTCOME snakemake-arguments...

Only the network boundary is replaced: the ``htcondor2.Schedd`` that the executor plugin
(snakemake-executor-plugin-htcondor) calls to submit, query, read history and remove. The
plugin's own code builds the submit description (a real ``htcondor2.Submit``) and reads job
states (with the real ``htcondor2.JobEventLog``) unchanged. Each submission is recorded as
STATE_DIR/submit-<n>.json (the submit description, its ClusterId, the working directory).

OUTCOME is what the "pool" does with every job, as a real access point would report it:

``exit:<code>``
    the job ran and exited with <code>: the submit, execute and terminate events are
    written to the job's event log (the submit description's ``log``, relative to the
    submit directory), as HTCondor's schedd and shadow write them;
``run``
    the job runs here, at once, as on a one-node pool that shares the submit host's files:
    its executable with its arguments (HTCondor's plain syntax: split at white space) in
    the submit directory (the job's iwd), with only the environment that ``getenv`` and
    ``environment`` give it, stdout/stderr to its ``output``/``error`` files; then the
    events, with its real exit code;
``held:<reason>``
    the job was put on hold an hour ago for <reason>: no event log is written, and the
    queue answers with the job's ad (JobStatus 5, HoldReason, EnteredCurrentStatus), which
    the plugin reads when no event log appears.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import htcondor2


def _event(code: int, cluster: int, text: str) -> str:
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    return f"{code:03d} ({cluster:03d}.000.000) {stamp} {text}\n...\n"


def _terminated(cluster: int, code: int) -> str:
    usage = "\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  "
    return _event(5, cluster, "Job terminated.\n"
                  f"\t(1) Normal termination (return value {code})\n"
                  + "".join(f"{usage}{what} Usage\n" for what in ("Run Remote", "Run Local",
                                                                 "Total Remote", "Total Local"))
                  + "".join(f"\t0  -  {what} By Job\n" for what in ("Run Bytes Sent", "Run Bytes Received",
                                                                  "Total Bytes Sent", "Total Bytes Received")))


def _job_environment(description: dict[str, str]) -> dict[str, str]:
    """HTCondor's job environment: nothing of the submitter's or the node's, but what
    ``getenv`` imports (true: all; false: none; else a list of names, * as wildcard) and
    what ``environment`` sets (its ``KEY="value"`` form, as the plugin writes it)."""
    getenv = description.get("getenv", "False").strip()
    if getenv.lower() in ("true", "false"):
        env = dict(os.environ) if getenv.lower() == "true" else {}
    else:
        names = [name for name in re.split(r"[\s,]+", getenv) if name]
        env = {key: value for key, value in os.environ.items()
               if any(fnmatch.fnmatchcase(key, name) for name in names)}
    env["_CONDOR_SCRATCH_DIR"] = os.getcwd()
    for key, value in re.findall(r'(\w+)="((?:[^"]|"")*)"', description.get("environment", "")):
        env[key] = value.replace('""', '"')
    return env


def _run(description: dict[str, str], cluster: int) -> int:
    assert '"' not in description["arguments"], "only HTCondor's plain argument syntax is emulated"
    env = _job_environment(description)
    out, err = (description[key].replace("$(ClusterId)", str(cluster)) for key in ("output", "error"))
    with open(out, "w") as stdout, open(err, "w") as stderr:
        return subprocess.run([description["executable"], *description["arguments"].split()],
                              env=env, stdout=stdout, stderr=stderr, timeout=300).returncode


class _SubmitResult:
    def __init__(self, cluster: int) -> None:
        self._cluster = cluster

    def cluster(self) -> int:
        return self._cluster


class FakeSchedd:
    """The subset of ``htcondor2.Schedd`` that the plugin calls."""

    def __init__(self, *args, **kwargs) -> None:
        self.state = Path(os.environ["BUMPFOLD_FAKE_SCHEDD_STATE"])
        self.outcome = os.environ["BUMPFOLD_FAKE_SCHEDD_OUTCOME"]

    def submit(self, description, count=0, spool=False, itemdata=None, queue=None):
        assert isinstance(description, htcondor2.Submit), type(description)
        number = len(list(self.state.glob("submit-*.json")))
        cluster = 101 + number
        record = {"cluster": cluster, "cwd": os.getcwd(), "description": dict(description)}
        (self.state / f"submit-{number}.json").write_text(json.dumps(record, indent=1))
        if self.outcome == "run":
            self._log(description, cluster, _run(dict(description), cluster))
        elif self.outcome.startswith("exit:"):
            self._log(description, cluster, int(self.outcome.removeprefix("exit:")))
        return _SubmitResult(cluster)

    @staticmethod
    def _log(description, cluster: int, code: int) -> None:
        host = "<127.0.0.1:9618?addrs=127.0.0.1-9618>"
        with open(description["log"], "a") as log:  # relative to the job's iwd, as HTCondor's
            log.write(_event(0, cluster, f"Job submitted from host: {host}"))
            log.write(_event(1, cluster, f"Job executing on host: {host}"))
            log.write(_terminated(cluster, code))

    def _clusters(self, constraint: str) -> list[int]:
        return [int(c) for c in re.findall(r"ClusterId == (\d+)", constraint)]

    def query(self, constraint="true", projection=(), **kwargs):
        with open(self.state / "queries.log", "a") as log:
            log.write(f"query {constraint}\n")
        if not self.outcome.startswith("held:"):
            return []
        return [{"ClusterId": cluster, "JobStatus": 5, "HoldReason": self.outcome.removeprefix("held:"),
                 "EnteredCurrentStatus": int(time.time()) - 3600}
                for cluster in self._clusters(constraint)]

    def history(self, constraint="true", projection=(), **kwargs):
        with open(self.state / "queries.log", "a") as log:
            log.write(f"history {constraint}\n")
        return []

    def act(self, action, job_spec, **kwargs):
        with open(self.state / "queries.log", "a") as log:
            log.write(f"act {action} {job_spec}\n")


if __name__ == "__main__":
    os.environ["BUMPFOLD_FAKE_SCHEDD_STATE"] = str(Path(sys.argv[1]).resolve())
    os.environ["BUMPFOLD_FAKE_SCHEDD_OUTCOME"] = sys.argv[2]
    htcondor2.Schedd = FakeSchedd
    from snakemake.cli import main

    sys.argv = ["snakemake", *sys.argv[3:]]
    main()
