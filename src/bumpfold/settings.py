"""Typed settings: sections of a validated config (bumpfold.config) as the dataclasses the
library functions take."""

from __future__ import annotations

from typing import Any

from bumpfold.generate.detector import DetectorModel
from bumpfold.generate.jets import JetConfig
from bumpfold.generate.production import ProductionConfig, ShowerFilter
from bumpfold.generate.pythia import ProcessSpec
from bumpfold.skim import Selection


def production_config(generation: dict[str, Any]) -> ProductionConfig:
    """From the ``generation`` section (its ``processes`` are not needed)."""
    return ProductionConfig(
        sqrt_s=float(generation["sqrt_s"]), mpi=bool(generation["mpi"]),
        leading_jet_pt_min=float(generation["leading_jet_pt_min"]), batch_size=int(generation["batch_size"]),
        match_dr=float(generation["match_dr"]), jets=JetConfig(**generation["jets"]),
        detector=DetectorModel(**generation["detector"]),
        shower_filter=ShowerFilter(**{k: float(v) for k, v in generation["shower_filter"].items()}),
    )


def process_spec(name: str, process: dict[str, Any]) -> ProcessSpec:
    """From one entry of ``generation.processes``."""
    return ProcessSpec(name=name, kind=process["kind"], pthat_min=float(process["pthat_min"]),
                       m_resonance=float(process["m_resonance"]), m_x=float(process["m_x"]), m_y=float(process["m_y"]),
                       settings=tuple(process["pythia_settings"]))


def selection(skim: dict[str, Any]) -> Selection:
    """From the ``skim`` section."""
    return Selection(leading_pt_min=float(skim["leading_pt_min"]), jet_eta_max=float(skim["jet_eta_max"]),
                     delta_eta_max=None if skim["delta_eta_max"] is None else float(skim["delta_eta_max"]))
