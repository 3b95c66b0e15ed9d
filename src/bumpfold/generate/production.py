"""One production chunk: Pythia -> detector model -> jets at both levels -> NanoAOD-like ROOT."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path

import awkward as ak
import numpy as np

from bumpfold.generate.detector import DetectorModel, simulate
from bumpfold.generate.jets import JetConfig, find_jets, match_index, with_substructure
from bumpfold.generate.pythia import PythiaGenerator, ProcessSpec
from bumpfold.io.atomic import atomic_path
from bumpfold.io.nanoaod import write_tree

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProductionConfig:
    """Everything a chunk needs besides the process: energies in GeV."""

    sqrt_s: float = 13000.0
    mpi: bool = False
    leading_jet_pt_min: float = 1200.0
    batch_size: int = 500
    match_dr: float = 0.5
    jets: JetConfig = field(default_factory=JetConfig)
    detector: DetectorModel = field(default_factory=DetectorModel)


def chunk_seed(base_seed: int, process: str, chunk: int) -> int:
    """A Pythia seed (1..900000000) derived from (config seed, process, chunk)."""
    digest = hashlib.sha256(f"{base_seed}/{process}/{chunk}".encode()).digest()
    return 1 + int.from_bytes(digest[:8], "little") % 899_999_999


@dataclass
class ChunkSummary:
    process: str
    chunk: int
    seed: int
    n_generated: int
    n_tried: int
    n_accepted: int
    cross_section_pb: float
    cross_section_err_pb: float
    seconds: float


def produce_chunk(
    spec: ProcessSpec,
    *,
    process_id: int,
    chunk: int,
    n_events: int,
    base_seed: int,
    config: ProductionConfig,
    output: str | Path,
) -> ChunkSummary:
    """Generate ``n_events`` of ``spec`` and write the events that pass the leading-jet
    cut at particle or reco level to ``output`` (``Events`` and ``Runs`` trees)."""
    if n_events < 1:
        raise ValueError(f"process {spec.name!r}: events per chunk must be >= 1, got {n_events}")
    seed = chunk_seed(base_seed, spec.name, chunk)
    start = time.perf_counter()
    generator = PythiaGenerator(spec, sqrt_s=config.sqrt_s, mpi=config.mpi, seed=seed)
    rng = np.random.default_rng(seed)
    pieces: list[dict[str, ak.Array]] = []
    done = 0
    while done < n_events:
        piece, generated = _process_batch(generator, min(config.batch_size, n_events - done), rng, config)
        pieces.append(piece)
        done += generated  # nextBatch skips events Pythia failed on, so count what came back
        log.info("%s chunk %d: %d/%d events (%.0f ev/s)", spec.name, chunk, done, n_events,
                 done / (time.perf_counter() - start))
    events = {k: ak.concatenate([p[k] for p in pieces]) for k in pieces[0]}
    n_accepted = len(events["FatJet"])
    sigma, sigma_err = generator.cross_section_pb
    summary = ChunkSummary(spec.name, chunk, seed, done, generator.n_tried, n_accepted, sigma, sigma_err,
                           time.perf_counter() - start)
    _write(output, events, spec, process_id, chunk, summary, config)
    log.info("%s chunk %d: wrote %d of %d events to %s", spec.name, chunk, n_accepted, done, output)
    return summary


def _process_batch(generator: PythiaGenerator, n: int, rng: np.random.Generator,
                   config: ProductionConfig) -> tuple[dict[str, ak.Array], int]:
    """The jets of the kept events of one batch, and how many events Pythia returned."""
    particles = generator.batch(n)
    candidates = simulate(particles, config.detector, rng)
    gen = find_jets(particles, config.jets)
    reco = find_jets(candidates, config.jets)
    lead = config.leading_jet_pt_min
    passes = (gen.leading_pt() > lead) | (reco.leading_pt() > lead)
    gen_jets = with_substructure(gen, passes, config.jets)
    reco_jets = with_substructure(reco, passes, config.jets)
    reco_jets = ak.with_field(reco_jets, match_index(reco_jets, gen_jets, config.match_dr), "genJetAK8Idx")
    return {"FatJet": reco_jets, "GenJetAK8": gen_jets}, particles.n_events


def _write(output, events, spec: ProcessSpec, process_id: int, chunk: int,
           summary: ChunkSummary, config: ProductionConfig) -> None:
    import uproot

    n = len(events["FatJet"])
    provenance = {
        "process": asdict(spec),
        "chunk": chunk,
        "seed": summary.seed,
        "production": asdict(config),
        "versions": {p: version(p) for p in ("bumpfold", "pythia8mc", "fastjet", "uproot", "awkward", "numpy")},
    }
    with atomic_path(output) as tmp:
        with uproot.recreate(tmp) as f:
            write_tree(f, "Events", {
                "run": np.ones(n, dtype=np.uint32),
                "luminosityBlock": np.full(n, chunk, dtype=np.uint32),
                "event": np.arange(1, n + 1, dtype=np.uint64),
                "FatJet": events["FatJet"],
                "GenJetAK8": events["GenJetAK8"],
                "Truth_isSignal": np.full(n, spec.is_signal),
                "Truth_processId": np.full(n, process_id, dtype=np.int32),
            })
            write_tree(f, "Runs", {
                "run": np.array([1], dtype=np.uint32),
                "genEventCount": np.array([summary.n_generated], dtype=np.int64),
                "genEventSumw": np.array([float(summary.n_generated)]),
                "nTried": np.array([summary.n_tried], dtype=np.int64),
                "nAccepted": np.array([summary.n_accepted], dtype=np.int64),
                "crossSection_pb": np.array([summary.cross_section_pb]),
                "crossSectionError_pb": np.array([summary.cross_section_err_pb]),
                "seed": np.array([summary.seed], dtype=np.int64),
            })
            f["provenance"] = json.dumps(provenance, sort_keys=True)
