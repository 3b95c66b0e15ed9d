"""Provenance stamps on results, and the environment files that pin the software."""

from __future__ import annotations

import json
import subprocess
import tomllib

import matplotlib
import pandas as pd
import pytest
import yaml

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
    plt.close(fig)
    paths = [tmp_path / n for n in ("t.parquet", "s.json", "l.md", "p.png")]
    stamp(paths, record)
    stamp(paths, record)  # stamping twice replaces, never duplicates
    for path in (tmp_path / "t.parquet", tmp_path / "s.json", tmp_path / "p.png"):
        assert read_provenance(path) == record
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


def _requirements(lines: list[str]) -> dict[str, str]:
    """name -> version specifier, spaces and quotes dropped."""
    out = {}
    for line in lines:
        line = line.replace(" ", "").strip("\"'")
        name = line.split(";")[0]
        for i, ch in enumerate(name):
            if ch in "<>=!~[":
                out[name[:i].lower()] = name[i:]
                break
        else:
            out[name.lower()] = ""
    return out


def test_conda_environment_pins_what_pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "envs" / "bumpfold.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert f"python={project['requires-python'].removeprefix('>=')}" in env["dependencies"]
    assert _requirements([p for p in pip if not p.startswith("-e")]) == _requirements(project["dependencies"])
    assert "-e ../" in pip  # the environment installs bumpfold itself from the checkout
