"""What a generator process is, checked without Pythia: its kind, masses, signal topology
and extra settings (:class:`ProcessSpec`). Standard library only, so that validating a config
imports no event code; :mod:`bumpfold.generate.pythia` turns a spec into Pythia settings."""

from __future__ import annotations

from dataclasses import dataclass

from bumpfold.errors import BumpfoldInputError

M_W, M_B = 80.4, 4.8  # GeV: Pythia's defaults, for the decay thresholds
LINE_SHAPE = (0.75, 1.25)  # the resonance's mass window, in units of m_res

# topology -> what it is; the keys are the config's ``topology`` values
TOPOLOGIES = {
    "qq": "W' -> X Y, X -> q q', Y -> q q (2 + 2 prongs)",
    "qq_bb": "W' -> X Y, X -> q q', Y -> b b-bar (2 + 2 prongs, heavy flavour)",
    "tb": "W' -> t b-bar, t (mass m_X) -> b q q' (3 + 1 prongs; m_Y unused)",
    "ww_qq": "A -> h Z, h (mass m_X) -> W+ W- -> 4 q, Z (mass m_Y) -> q q (4 + 2 prongs)",
}


@dataclass(frozen=True)
class ProcessSpec:
    """A generator process: ``kind`` is "qcd" or "resonance"; masses in GeV."""

    name: str
    kind: str
    pthat_min: float = 600.0
    m_resonance: float = 3500.0
    m_x: float = 500.0
    m_y: float = 100.0
    topology: str = "qq"
    # extra Pythia settings ("Key = value"), read last so they override: another tune or
    # shower/hadronisation parameters, e.g. the pseudo-data of the unfolding
    settings: tuple[str, ...] = ()

    @property
    def is_signal(self) -> bool:
        return self.kind == "resonance"

    def check(self) -> None:
        """Raise :class:`BumpfoldInputError` naming the process if Pythia cannot make it."""
        problem = self.problem()
        if problem is not None:
            raise BumpfoldInputError(f"process {self.name!r}: {problem}")

    def problem(self) -> str | None:
        """Why Pythia cannot make this process (an unknown topology, daughters too heavy for
        the resonance or too light for their decays), or None."""
        if self.kind != "resonance":
            return None
        if self.topology not in TOPOLOGIES:
            return (f"unknown topology {self.topology!r}; Pythia settings exist for "
                    + ", ".join(f"{k} ({v})" for k, v in TOPOLOGIES.items()))
        m_y = M_B if self.topology == "tb" else self.m_y
        low_edge = LINE_SHAPE[0] * self.m_resonance
        if self.m_x + m_y >= low_edge:
            return (f"daughters of {self.m_x:g} + {m_y:g} GeV are too heavy for topology {self.topology!r}: "
                    f"their sum must be below the line shape's lower edge {low_edge:g} GeV "
                    f"({LINE_SHAPE[0]} m_resonance = {self.m_resonance:g} GeV)")
        threshold = {"qq_bb": ("m_y", self.m_y, 2 * M_B, "Y -> b b-bar"),
                     "tb": ("m_x", self.m_x, M_W + M_B, "t -> W b"),
                     "ww_qq": ("m_x", self.m_x, 2 * M_W, "h -> W+ W- with both W on shell")}.get(self.topology)
        if threshold is not None and threshold[1] <= threshold[2]:
            key, mass, minimum, decay = threshold
            return (f"{key} = {mass:g} GeV is too light for {decay} in topology {self.topology!r}: "
                    f"it must exceed {minimum:g} GeV")
        return None
