"""BENCHMARKS.md is generated from the results files in docs/benchmarks/."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

BUILD = ROOT / "scripts" / "bench" / "build_benchmarks.py"


def test_benchmarks_md_is_what_the_results_files_give():
    """Regenerate with `python scripts/bench/build_benchmarks.py` after a benchmark wrote its
    section (`--output docs/benchmarks/NAME.md`)."""
    result = subprocess.run([sys.executable, str(BUILD), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    text = (ROOT / "BENCHMARKS.md").read_text()
    # 20 KB until the bump hunt's calibration (toys, spurious signal, selection bias) and the
    # GPU flow training got their sections
    assert len(text.encode()) <= 32_768, "BENCHMARKS.md holds current figures only (<= 32 KB)"
    assert "/work/" not in text and "/tmp/" not in text, "no machine-specific paths"


def test_a_stale_or_unlisted_results_file_is_caught(tmp_path):
    sys.path.insert(0, str(BUILD.parent))
    try:
        import build_benchmarks
    finally:
        sys.path.remove(str(BUILD.parent))
    for path in (ROOT / "docs" / "benchmarks").glob("*.md"):
        (tmp_path / path.name).write_text(path.read_text())
    assert build_benchmarks.build(tmp_path) == (ROOT / "BENCHMARKS.md").read_text()
    (tmp_path / "orphan.md").write_text("### a section no one lists\n")
    with pytest.raises(SystemExit, match=r"not in build_benchmarks.SECTIONS: \['orphan'\]"):
        build_benchmarks.build(tmp_path)
    (tmp_path / "orphan.md").unlink()
    (tmp_path / "production.md").unlink()
    with pytest.raises(SystemExit, match=r"listed but absent: \['production'\]"):
        build_benchmarks.build(tmp_path)
