"""Signal topologies (issue 17): each forces the decay it names in Pythia, and its jets have
the masses and prongs it promises; impossible scenarios fail before any event."""

from __future__ import annotations

import re

import awkward as ak
import numpy as np
import pytest

from bumpfold.errors import BumpfoldInputError
from bumpfold.generate.production import ProductionConfig, produce_chunk
from bumpfold.generate.pythia import TOPOLOGIES, ProcessSpec, PythiaGenerator
from bumpfold.skim import Selection, skim_files

W, Z, H, TOP, B = 24, 23, 25, 6, 5
LIGHT = {1, 2, 3, 4}

# topology -> (m_x, m_y), and per decaying particle the |PDG id| sets its daughters may be
SCENARIOS = {
    "qq": ((500.0, 100.0), {W: [LIGHT], Z: [LIGHT]}),
    "qq_bb": ((500.0, 100.0), {W: [LIGHT], Z: [{B}]}),
    "tb": ((300.0, 100.0), {34: [{TOP, B}], TOP: [{W, B}], W: [LIGHT]}),
    "ww_qq": ((400.0, 100.0), {36: [{Z, H}], H: [{W}], W: [LIGHT], Z: [LIGHT]}),
}


def _spec(topology: str, m_resonance: float = 3500.0) -> ProcessSpec:
    (m_x, m_y), _ = SCENARIOS[topology]
    return ProcessSpec(f"s_{topology}", "resonance", m_resonance=m_resonance, m_x=m_x, m_y=m_y, topology=topology)


def _daughter_ids(events: ak.Array, mother: int) -> list[set[int]]:
    """Per event, the |PDG ids| of the particles whose first mother is a ``mother``, when
    that mother decayed (not a shower copy: its daughters are of another kind)."""
    prt = events.prt
    out = []
    for ids, mothers in zip(ak.to_list(np.abs(prt.id)), ak.to_list(prt.mother1), strict=True):
        daughters = {i for i, m in zip(ids, mothers, strict=True) if 0 < m and ids[m] == mother and i != mother}
        out.append(daughters)
    return out


def test_every_topology_is_tested():
    assert set(SCENARIOS) == set(TOPOLOGIES)


@pytest.mark.parametrize("topology", sorted(SCENARIOS))
def test_each_topology_forces_the_decays_it_names(topology):
    generator = PythiaGenerator(_spec(topology), sqrt_s=13000.0, mpi=False, seed=5)
    events = generator.raw_batch(20)
    assert len(events) >= 15
    for mother, allowed in SCENARIOS[topology][1].items():
        seen = [d for d in _daughter_ids(events, mother) if d and not d <= {mother, 21, 22}]
        assert seen, f"no {mother} decayed"
        for daughters in seen:
            assert any(daughters <= a | {21, 22} for a in allowed), (mother, daughters)
    if topology == "qq_bb":  # the heavy flavour is in every event, not only allowed
        assert all(B in d for d in _daughter_ids(events, Z) if d)


@pytest.fixture(scope="module")
def topology_tables(tmp_path_factory):
    """200 generated events per topology, skimmed (~15 s for all)."""
    out = tmp_path_factory.mktemp("topologies")
    tables = {}
    for topology in SCENARIOS:
        path = out / f"{topology}.root"
        produce_chunk(_spec(topology), process_id=1, chunk=0, n_events=200, base_seed=17,
                      config=ProductionConfig(), output=path)
        tables[topology] = skim_files([path], Selection(), dataset=topology)[0]
    return tables


def _mode(values, bins):
    counts, edges = np.histogram(values, bins=bins)
    return 0.5 * (edges[np.argmax(counts)] + edges[np.argmax(counts) + 1])


def test_heavy_jet_mass_and_prongs_follow_the_topology(topology_tables):
    """The heavier jet peaks at m_x; its N-subjettiness says 2, 3 or 4 prongs: a 2-prong jet
    has the lowest tau21 and the highest tau32, 3- and 4-prong jets a higher tau21 and a
    lower tau32 (measured medians on 300 events: tau21 0.17 / 0.42 / 0.42, tau32 0.70 / 0.59 / 0.58)."""
    medians = {}
    for topology, table in topology_tables.items():
        assert len(table) > 100, topology
        m_heavy = table.mj_low + table.delta_mj
        assert _mode(m_heavy, np.arange(0, 800, 25)) == pytest.approx(SCENARIOS[topology][0][0], rel=0.15), topology
        mjj = _mode(table.mjj, np.arange(2500, 4500, 100))
        assert mjj == pytest.approx(3500, rel=0.07), topology
        medians[topology] = (table.tau21_high.median(), table.tau32_high.median())
    for two_prong in ("qq", "qq_bb"):
        for many in ("tb", "ww_qq"):
            assert medians[many][0] > medians[two_prong][0] + 0.1, medians
            assert medians[many][1] < medians[two_prong][1] - 0.05, medians


@pytest.mark.parametrize(("topology", "m_resonance", "m_x", "m_y", "message"), [
    ("qq", 700.0, 500.0, 100.0, "daughters of 500 + 100 GeV are too heavy for topology 'qq'"),
    ("tb", 3500.0, 80.0, 100.0, "m_x = 80 GeV is too light for t -> W b in topology 'tb': it must exceed 85.2 GeV"),
    ("ww_qq", 3500.0, 125.0, 100.0, "m_x = 125 GeV is too light for h -> W+ W- with both W on shell"),
    ("qq_bb", 3500.0, 500.0, 8.0, "m_y = 8 GeV is too light for Y -> b b-bar"),
    ("zz", 3500.0, 500.0, 100.0, "unknown topology 'zz'; Pythia settings exist for qq"),
])
def test_impossible_scenarios_fail_before_any_event(tmp_path, topology, m_resonance, m_x, m_y, message):
    spec = ProcessSpec("bad", "resonance", m_resonance=m_resonance, m_x=m_x, m_y=m_y, topology=topology)
    with pytest.raises(BumpfoldInputError, match=re.escape(f"process 'bad': {message}")):
        produce_chunk(spec, process_id=1, chunk=0, n_events=10, base_seed=1, config=ProductionConfig(),
                      output=tmp_path / "x.root")
    assert not list(tmp_path.iterdir())
