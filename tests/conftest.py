from __future__ import annotations

from pathlib import Path

import pytest

from bumpfold.generate.production import ProductionConfig, produce_chunk
from bumpfold.generate.pythia import ProcessSpec

ROOT = Path(__file__).resolve().parents[1]
PFNANO = ROOT.parent / "shared" / "data" / "nanoaod" / "pfnano.root"

QCD = ProcessSpec("qcd", "qcd", pthat_min=600.0)
SIGNAL = ProcessSpec("wprime_3500_500_100", "resonance", m_resonance=3500.0, m_x=500.0, m_y=100.0)


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> dict[str, Path]:
    """Small generated QCD and signal files, made once per test session (~15 s)."""
    out = tmp_path_factory.mktemp("samples")
    paths = {"qcd": out / "qcd.root", "signal": out / "signal.root"}
    produce_chunk(QCD, process_id=0, chunk=0, n_events=1500, base_seed=11, config=ProductionConfig(), output=paths["qcd"])
    produce_chunk(SIGNAL, process_id=1, chunk=0, n_events=500, base_seed=11, config=ProductionConfig(), output=paths["signal"])
    return paths


@pytest.fixture(scope="session")
def fold_jobs_run(tmp_path_factory) -> tuple[Path, float]:
    """The workflow on the test config with a job per fold, run locally once per session
    (~2 min): the Slurm test's reference and test_workflow's second same-seed run.
    Returns the work folder and the run's wall time in seconds."""
    import time

    from tests.test_workflow import _copy_workflow, _fold_jobs_config, _snakemake

    workdir = _copy_workflow(tmp_path_factory.mktemp("wf_fold_jobs"))
    start = time.monotonic()
    result = _snakemake(workdir, _fold_jobs_config())
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir, time.monotonic() - start


@pytest.fixture()
def pfnano() -> Path:
    if not PFNANO.is_file():
        pytest.skip(f"real CMS NanoAOD test file not found at {PFNANO} (needs ../shared beside the project)")
    return PFNANO
