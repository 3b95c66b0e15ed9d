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

from bumpfold.errors import BumpfoldInputError
from bumpfold.generate.detector import DetectorModel, simulate
from bumpfold.generate.jets import JetConfig, find_jets, match_index, with_substructure
from bumpfold.generate.pythia import ProcessSpec, PythiaGenerator, ShowerJetVeto, pthat_of
from bumpfold.io.atomic import atomic_path
from bumpfold.io.nanoaod import write_tree

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShowerFilter:
    """The generator-level filter of QCD processes, which keeps a pTHat floor far below the
    leading-jet cut affordable: when the shower has evolved down to ``scale`` [GeV], the
    partons are clustered into anti-kT jets of ``radius`` and the event is vetoed, before its
    costly showering and hadronisation, if the leading one has pT below ``pt_fraction`` x
    the leading-jet cut (0: no filter). Pythia's cross section counts vetoed events out.

    A final jet of radius R gathers little from partons further than ~R + 0.5 away, so the
    leading R + 0.5 shower jet bounds the final particle-level jet from below up to the soft
    radiation still to come; the detector model adds a rare upward tail to reco jets (large
    track-momentum errors at TeV), hence a fraction well below 1. The loss at each fraction
    is measured by ``scripts/bench/bench_generator_cut.py`` (BENCHMARKS.md)."""

    scale: float = 50.0
    radius: float = 1.5
    pt_fraction: float = 0.9

    def veto(self, leading_jet_pt_min: float) -> ShowerJetVeto | None:
        if self.pt_fraction == 0:
            return None
        return ShowerJetVeto(scale=self.scale, radius=self.radius, pt_min=self.pt_fraction * leading_jet_pt_min)


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
    shower_filter: ShowerFilter = field(default_factory=ShowerFilter)  # QCD processes only


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
        raise BumpfoldInputError(f"process {spec.name!r}: events per chunk must be >= 1, got {n_events}")
    seed = chunk_seed(base_seed, spec.name, chunk)
    start = time.perf_counter()
    generator = PythiaGenerator(spec, sqrt_s=config.sqrt_s, mpi=config.mpi, seed=seed,
                                shower_veto=config.shower_filter.veto(config.leading_jet_pt_min)
                                if spec.kind == "qcd" else None)
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
    """The jets (and pTHat) of the kept events of one batch, and how many events Pythia returned."""
    events = generator.raw_batch(n)
    particles = generator.final_state(events)
    candidates = simulate(particles, config.detector, rng)
    gen = find_jets(particles, config.jets)
    reco = find_jets(candidates, config.jets)
    lead = config.leading_jet_pt_min
    passes = (gen.leading_pt() > lead) | (reco.leading_pt() > lead)
    gen_jets = with_substructure(gen, passes, config.jets)
    reco_jets = _calibrated_mass(with_substructure(reco, passes, config.jets), config.detector, rng)
    reco_jets = ak.with_field(reco_jets, match_index(reco_jets, gen_jets, config.match_dr), "genJetAK8Idx")
    return {"FatJet": reco_jets, "GenJetAK8": gen_jets,
            "Generator_binvar": pthat_of(events)[passes].astype(np.float32)}, particles.n_events


def _calibrated_mass(jets: ak.Array, detector: DetectorModel, rng: np.random.Generator) -> ak.Array:
    """The detector's jet mass scale and extra relative smearing on the reco jets' mass and
    soft-drop mass (pT, angles and N-subjettiness untouched); nothing drawn without smearing,
    so the nominal detector's random sequence stays as it was."""
    if detector.jet_mass_scale == 1.0 and detector.jet_mass_resolution == 0.0:
        return jets
    counts = ak.num(jets)
    factor = np.full(int(ak.sum(counts)), detector.jet_mass_scale)
    if detector.jet_mass_resolution > 0:
        factor = factor * np.maximum(1.0 + detector.jet_mass_resolution * rng.standard_normal(len(factor)), 0.0)
    per_jet = ak.unflatten(factor, counts)
    for name in ("mass", "msoftdrop"):
        jets = ak.with_field(jets, jets[name] * per_jet, name)
    return jets


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
                "Generator_binvar": ak.to_numpy(events["Generator_binvar"]),  # pTHat, as in NanoAOD
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
