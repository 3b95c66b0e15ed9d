"""The command line: single steps without Snakemake, one clear line on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd

from bumpfold.features import COLUMNS


def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bumpfold.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_skim_real_nanoaod(pfnano, tmp_path):
    result = _cli("skim", str(pfnano), "-o", "cms.parquet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert list(pd.read_parquet(tmp_path / "cms.parquet").columns) == list(COLUMNS)
    assert (tmp_path / "cms.cutflow.json").is_file()


def test_generate_then_skim(tmp_path):
    result = _cli("generate", "--process", "wprime_3500_500_100", "--events", "40", "-o", "sig.root", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert '"n_generated": 40' in result.stdout
    result = _cli("skim", "sig.root", "-o", "sig.parquet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (pd.read_parquet(tmp_path / "sig.parquet").is_signal == 1).all()


def test_bad_input_is_one_line_and_leaves_nothing(tmp_path):
    (tmp_path / "notroot.root").write_text("hello")
    result = _cli("skim", "notroot.root", "-o", "out.parquet", cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("bumpfold: error: notroot.root: not a readable ROOT file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notroot.root"]


def test_unknown_process_and_bad_config(tmp_path):
    result = _cli("generate", "--process", "gluino", "--events", "5", "-o", "x.root", cwd=tmp_path)
    assert result.returncode != 0 and "--process 'gluino': not in generation.processes" in result.stderr
    (tmp_path / "c.yaml").write_text("skim: {leading_pt_min: -1}\n")
    result = _cli("validate", "c.yaml", cwd=tmp_path)
    assert result.returncode != 0 and "'skim.leading_pt_min': -1 is less than the minimum of 0" in result.stderr


def test_validate_writes_the_resolved_config(tmp_path):
    (tmp_path / "c.yaml").write_text("seed: 5\nsearch: {n_folds: 3}\n")
    result = _cli("validate", "c.yaml", "--resolved", "resolved.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    resolved = json.loads((tmp_path / "resolved.json").read_text())
    assert resolved["seed"] == 5 and resolved["search"]["n_folds"] == 3
    assert resolved["search"]["flow"]["transforms"] >= 1  # defaults filled in


def test_skim_refuses_to_overwrite_its_input(samples, tmp_path):
    target = tmp_path / "x.root"
    target.write_bytes(samples["signal"].read_bytes())
    before = target.read_bytes()
    result = _cli("skim", "x.root", "-o", "x.root", cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip() == "bumpfold: error: x.root: is an input of this command; refusing to overwrite it"
    assert target.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["x.root"]


def test_an_unexpected_error_ends_the_job_log(tmp_path):
    """Snakemake points the user at the job's log: an error that is not a clear bad-input
    message must still end up there, with its traceback (issue 20)."""
    import pytest

    from bumpfold.logs import job_logging

    log = tmp_path / "job.log"
    with pytest.raises(ZeroDivisionError), job_logging(str(log)):
        1 / 0
    text = log.read_text()
    assert "the job stopped on an unexpected error" in text
    assert text.rstrip().endswith("ZeroDivisionError: division by zero")


def test_a_full_disk_is_one_message_and_leaves_nothing(tmp_path, monkeypatch):
    """Writing that fails for lack of space (or permission) names the output and the cause,
    and no temporary file stays behind; other errors pass unchanged."""
    import errno
    import os

    import pytest

    from bumpfold.errors import BumpfoldInputError
    from bumpfold.io.atomic import atomic_path

    def full(*_):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(BumpfoldInputError, match=r"out\.json: cannot write it \(No space left on device\)"):
        with atomic_path(tmp_path / "out.json") as tmp:
            tmp.write_text("{}")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError), atomic_path(tmp_path / "x.json"):
        open(tmp_path / "missing-input")  # an error of the job's own, not of the writing


def test_zero_events_is_one_line_not_a_traceback(tmp_path):
    result = _cli("generate", "--process", "qcd", "--events", "0", "-o", "x.root", cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip() == "bumpfold: error: process 'qcd': events per chunk must be >= 1, got 0"
    assert list(tmp_path.iterdir()) == []
