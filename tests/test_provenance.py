"""Provenance stamps on results (the environment files: tests/test_environment.py)."""

from __future__ import annotations

import json
import subprocess

import matplotlib
import pandas as pd
import pytest

from bumpfold.provenance import git_commit, provenance, read_provenance, stamp
from tests.conftest import ROOT

matplotlib.use("Agg")


@pytest.fixture()
def record() -> dict:
    return provenance({"seed": 3, "search": {"n_folds": 5}}, where=ROOT)


def test_record_names_commit_seed_config_and_versions(record):
    assert record["seed"] == 3 and record["config"] == {"seed": 3, "search": {"n_folds": 5}}
    assert len(record["config_sha256"]) == 64
    assert record["packages"]["numpy"] != "not installed"
    if (ROOT / ".git").exists():
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        assert record["git_commit"].startswith(head)
    # nothing time-dependent: the same config gives the same record
    assert provenance({"seed": 3, "search": {"n_folds": 5}}, where=ROOT) == record


def test_outside_a_checkout_the_commit_is_unknown(tmp_path):
    assert git_commit(tmp_path) == "unknown (not a git checkout)"


def test_stamps_round_trip_and_leave_the_content_alone(tmp_path, record):
    import matplotlib.pyplot as plt

    table = pd.DataFrame({"mjj": [3500.0, 3600.0], "score": [0.1, 0.9]})
    table.to_parquet(tmp_path / "t.parquet", index=False)
    (tmp_path / "s.json").write_text(json.dumps({"rows": [1, 2]}))
    (tmp_path / "l.md").write_text("# limits\n")
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    fig.savefig(tmp_path / "p.png")
    fig.savefig(tmp_path / "p.pdf")
    plt.close(fig)
    figure = (tmp_path / "p.pdf").read_bytes()
    paths = [tmp_path / n for n in ("t.parquet", "s.json", "l.md", "p.png", "p.pdf")]
    stamp(paths, {**record, "seed": 4})
    stamp(paths, record)  # stamping twice replaces (the PDF: its last update is read)
    for path in (tmp_path / "t.parquet", tmp_path / "s.json", tmp_path / "p.png", tmp_path / "p.pdf"):
        assert read_provenance(path) == record
    stamped = (tmp_path / "p.pdf").read_bytes()  # the figure's bytes stay; an update is appended
    assert stamped.startswith(figure) and stamped.rstrip().endswith(b"%%EOF") and b"/Prev " in stamped[len(figure):]
    (tmp_path / "x.pdf").write_bytes(b"%PDF-1.4\n")  # no trailer: named, not half-stamped
    with pytest.raises(ValueError, match="x.pdf: no PDF trailer"):
        stamp([tmp_path / "x.pdf"], record)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), table)
    assert json.loads((tmp_path / "s.json").read_text())["rows"] == [1, 2]
    from PIL import Image

    with Image.open(tmp_path / "p.png") as image:
        assert round(image.info["dpi"][0]) == round(fig.dpi)  # the plot's resolution survives the stamp
    with pytest.raises(ValueError, match="no provenance stamp for '.txt' files"):
        stamp([tmp_path / "x.txt"], record)
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="provenance goes into a JSON object"):
        stamp([tmp_path / "list.json"], record)
    md = (tmp_path / "l.md").read_text()
    assert md.startswith("# limits\n") and md.count("<!-- provenance:") == 1 and record["config_sha256"] in md
