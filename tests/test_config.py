"""Config schema and value checks; every shipped config validates."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from bumpfold.config import SCHEMA_PATH, load_config, validate_config
from bumpfold.errors import BumpfoldInputError
from tests.conftest import ROOT


@pytest.mark.parametrize("name", ["config", "test", "benchmark", "benchmark_lhco_statistics", "nanoaod",
                                  "lhco_rd", "lhco_blackbox", "toys", "case_limits"])
def test_shipped_configs_validate(name):
    config = load_config(ROOT / "config" / f"{name}.yaml")
    assert config["generation"]["jets"]["radius"] == 1.0
    assert config["generation"]["mpi"] is False


def test_workflow_uses_the_package_schema():
    assert (ROOT / "workflow" / "schemas" / "config.schema.yaml").resolve() == SCHEMA_PATH.resolve()


def test_defaults_are_the_lhc_olympics_setup():
    config = validate_config({})
    gen = config["generation"]
    assert gen["sqrt_s"] == 13000.0 and gen["leading_jet_pt_min"] == 1200.0 and gen["jets"]["eta_max"] == 2.5
    sig = gen["processes"]["wprime_3500_500_100"]
    assert (sig["m_resonance"], sig["m_x"], sig["m_y"]) == (3500.0, 500.0, 100.0)
    assert [3300.0, 3700.0] in config["regions"]["signal_regions"]


def test_a_grid_of_signal_models_is_expressible():
    procs = {"qcd": {"kind": "qcd"}}
    for m in (3000, 3500, 4000):
        procs[f"wprime_{m}"] = {"kind": "resonance", "m_resonance": float(m), "m_x": 500.0, "m_y": 100.0}
    config = validate_config({"generation": {"processes": procs}, "datasets": {k: {"process": k} for k in procs},
                              "search": {"signal": "wprime_3500"}})
    assert config["generation"]["processes"]["wprime_4000"]["chunks"] == 1  # default filled in


BAD = [
    ({"sed": 1}, "config key 'sed': unknown key"),
    ({"generation": {"jets": {"raduis": 0.8}}}, "config key 'generation.jets.raduis': unknown key"),
    ({"generation": {"processes": {"qcd": {"kind": "qcd", "chunkz": 2}}}, "datasets": {"qcd": {"process": "qcd"}}},
     "'generation.processes.qcd.chunkz': unknown key"),
    ({"skim": {"leading_pt_min": -5}}, "'skim.leading_pt_min': -5 is less than the minimum of 0"),
    ({"skim": {"leading_pt_min": "high"}}, "'skim.leading_pt_min': 'high' is not of type 'number'"),
    ({"seed": 1.5}, "'seed': 1.5 is not of type 'integer'"),
    # whole-number floats are refused too (seed 7.0 seeded Pythia differently from 7)
    ({"seed": 7.0}, "'seed': 7.0 is not of type 'integer'"),
    ({"search": {"n_folds": 3.0}}, "'search.n_folds': 3.0 is not of type 'integer'"),
    ({"generation": {"processes": {"qcd": {"kind": "qcd", "chunks": 2.0}}}},
     "'generation.processes.qcd.chunks': 2.0 is not of type 'integer'"),
    ({"unfold": {"iterations": 2.0}}, "'unfold.iterations': 2.0 is not of type 'integer'"),
    ({"search": {"injections": [150.0]}}, "'search.injections.0': 150.0 is not of type 'integer'"),
    ({"seed": True}, "'seed': True is not of type 'integer'"),
    # keys that multiply jobs are bounded: a typo must not plan 50,000 jobs for minutes
    ({"search": {"n_folds": 10000}}, "'search.n_folds': 10000 is greater than the maximum of 50"),
    ({"unfold": {"members": 100000}}, "'unfold.members': 100000 is greater than the maximum of 1000"),
    # what the numbers rule out fails before any job
    ({"search": {"split": {"data_fraction": 0.6, "test_fraction": 0.4}}},
     "'search.split': data_fraction 0.6 + test_fraction 0.4 must be below 1"),
    ({"search": {"injections": [0, 9000]}}, "'search.injections': 9000 signal events, but wprime_3500_500_100 generates 10000"),
    ({"regions": {"signal_regions": [[5000.0, 6000.0]]}}, "must lie inside regions.mjj_range"),
    ({"regions": {"signal_regions": [[3700.0, 3300.0]]}}, "low 3700.0 must be below high 3300.0"),
    ({"regions": {"mjj_range": [5000.0, 3000.0]}}, "'regions.mjj_range': low 5000.0 must be below high"),
    ({"datasets": {"x": {"process": "nope"}}}, "'datasets.x.process': process 'nope' is not in generation.processes"),
    ({"datasets": {"x": {}}}, "'datasets.x': give exactly one of 'process'"),
    ({"datasets": {"x": {"lhco": "a.h5", "files": ["b.root"]}}}, "'datasets.x': give exactly one of 'process'"),
    ({"datasets": {"x": {"process": "qcd", "label": 1}}}, "'datasets.x.label': only for an 'lhco' dataset"),
    ({"datasets": {"x": {"lhco": "a.h5", "label": 2}}}, "'datasets.x.label': 2 is not one of [0, 1, None]"),
    ({"generation": {"processes": {"w": {"kind": "resonance", "m_resonance": 500.0}}}, "datasets": {"w": {"process": "w"}}},
     "daughters of 500 + 100 GeV are too heavy for topology 'qq': their sum must be below the line shape's lower edge 375 GeV"),
    ({"generation": {"processes": {"qcd": {"kind": "gluino"}}}}, "'generation.processes.qcd.kind'"),
    ({"bumphunt": {"injection_limits": {"injections": [100], "signal_models": ["qcd"]}}},
     "'bumphunt.injection_limits.signal_models': 'qcd' is not one of bumphunt.signal_models (wprime_3500_500_100)"),
    ({"search": {"injections": [200]}, "bumphunt": {"injection_limits": {"injections": [100]}}},
     "'bumphunt.injection_limits': the limits use the data without injection; add 0 to search.injections"),
    ({"bumphunt": {"injection_limits": {"injections": [100, 10000]}}},
     "'bumphunt.injection_limits.injections': 10000 signal events, but wprime_3500_500_100 generates 10000"),
    ({"regions": {"signal_regions": [[3700.0, 4100.0]]}, "bumphunt": {"injection_limits": {"injections": [100]}}},
     "'wprime_3500_500_100' has its mass 3500 GeV in no window of regions.signal_regions"),
    ({"bumphunt": {"injection_limits": {"injections": [0]}}},
     "'bumphunt.injection_limits.injections.0': 0 is less than the minimum of 1"),
    ({"generation": {"processes": {"w": {"kind": "resonance", "topology": "zz"}}}, "datasets": {"w": {"process": "w"}}},
     "'generation.processes.w.topology': 'zz' is not one of ['qq', 'qq_bb', 'tb', 'ww_qq']"),
    ({"generation": {"processes": {"w": {"kind": "resonance", "topology": "ww_qq", "m_x": 125.0}}},
      "datasets": {"w": {"process": "w"}}},
     "'generation.processes.w': m_x = 125 GeV is too light for h -> W+ W- with both W on shell"),
    ({"generation": {"processes": {"qcd": {"kind": "qcd", "pythia_settings": ["TimeShower:alphaSvalue"]}}}},
     "'generation.processes.qcd.pythia_settings.0': 'TimeShower:alphaSvalue' does not match"),
    ({"search": {"signal": "zprime"}}, "'search.signal': dataset 'zprime' is not in datasets"),
    ({"search": {"methods": ["cathode", "magic"]}}, "'search.methods.1': 'magic' is not one of"),
    ({"search": {"injections": [-5]}}, "'search.injections.0': -5 is less than the minimum of 0"),
    ({"unfold": {"enabled": True, "data": "herwig"}},
     "'unfold.data': process 'herwig' is not in generation.processes"),
    ({"unfold": {"enabled": True, "data": "qcd"}}, "'unfold.data': the pseudo-data must be another process"),
    ({"unfold": {"iterations": 0}}, "'unfold.iterations': 0 is less than the minimum of 1"),
    ({"unfold": {"observables": ["mass", "girth"]}}, "'unfold.observables.1': 'girth' is not one of"),
    ({"bumphunt": {"signal_models": ["qcd"]}}, "'bumphunt.signal_models': 'qcd' is not a dataset of a generated resonance"),
    ({"bumphunt": {"signal_models": ["zprime_2000"]}}, "'zprime_2000' is not a dataset of a generated resonance"),
    ({"bumphunt": {"methods": ["anode"]}}, "'bumphunt.methods.0': 'anode' is not one of"),
    ({"search": {"methods": ["iad"]}, "bumphunt": {"methods": ["cathode"]}},
     "'bumphunt.methods': cathode not in search.methods"),
    ({"bumphunt": {"bin_width": 150.0}}, "150 GeV bins from 2800 GeV do not have an edge at 3300 GeV"),
    ({"bumphunt": {"fit": {"min_params": 4, "max_params": 3}}}, "min_params must not exceed max_params"),
    ({"bumphunt": {"selection_bias": {"cwola": {"0.1": 0.05}}}},
     "'bumphunt.selection_bias.cwola': not one of bumphunt.methods (lacathode)"),
    ({"bumphunt": {"selection_bias": {"lacathode": {"0.3": 0.05}}}},
     "'bumphunt.selection_bias.lacathode.0.3': not one of search.efficiencies"),
    ({"bumphunt": {"selection_bias": {"lacathode": {"0.1": 1.5}}}}, "1.5 is greater than the maximum of 1"),
    ({"search": {"comparison_windows": [[3000.0, 3400.0]]}}, "[3000.0, 3400.0] is not one of regions.signal_regions"),
]


@pytest.mark.parametrize(("config", "message"), BAD, ids=[m.split(":")[0][:40] for _, m in BAD])
def test_bad_config_is_named(config, message):
    with pytest.raises(BumpfoldInputError) as info:
        validate_config(copy.deepcopy(config))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_config_files(tmp_path: Path):
    with pytest.raises(BumpfoldInputError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("seed: [1, 2\n")
    with pytest.raises(BumpfoldInputError, match=r"broken\.yaml: not valid YAML"):
        load_config(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(BumpfoldInputError, match="must be a mapping"):
        load_config(scalar)
    assert yaml.safe_load(SCHEMA_PATH.read_text())["additionalProperties"] is False


BOX = {"qcd": {"process": "qcd"}, "wprime_3500_500_100": {"process": "wprime_3500_500_100"},
       "box": {"lhco": "events_LHCO2020_BlackBox1.features.h5", "luminosity_fb": 1.0}}


@pytest.mark.parametrize(("search", "message"), [
    ({"data": "box", "background": None, "signal": None, "injections": [0, 100]},
     "'search.injections': 100 signal events to inject into the observed data but no signal model"),
    ({"data": None, "background": None}, "'search.background': pseudo-data (search.data null) are built from"),
    ({"data": "nope"}, "'search.data': dataset 'nope' is not in datasets"),
    ({"data": "box", "background": None, "signal": None, "injections": [0], "methods": ["iad", "supervised"]},
     "'search.methods': none can run"),
])
def test_bad_search_roles(search, message):
    with pytest.raises(BumpfoldInputError, match=re.escape(message)):
        validate_config({"datasets": copy.deepcopy(BOX), "search": search, "bumphunt": {"enabled": False}})


def test_observed_data_roles_and_the_methods_they_allow():
    from bumpfold.config import search_methods, skipped_methods

    config = validate_config({"datasets": copy.deepcopy(BOX), "bumphunt": {"enabled": False},
                              "search": {"data": "box", "background": None, "signal": None, "injections": [0]}})
    assert skipped_methods(config["search"]) == {"iad": "no background simulation",
                                                 "supervised": "no background or signal simulation"}
    assert search_methods(config["search"]) == ["cathode", "lacathode", "cwola", "anode", "autoencoder"]
    with pytest.raises(BumpfoldInputError, match="'datasets.box.luminosity_fb': 0 is less than or equal to the minimum"):
        validate_config({"datasets": {**copy.deepcopy(BOX), "box": {"lhco": "x.h5", "luminosity_fb": 0}}})


def test_lhco_datasets_validate():
    config = validate_config({"datasets": {"qcd": {"process": "qcd"}, "wprime_3500_500_100": {"process": "wprime_3500_500_100"},
                                           "rd_bkg": {"lhco": "events_anomalydetection_v2.features.h5", "label": 0},
                                           "box": {"lhco": "events_LHCO2020_BlackBox1.features.h5"}}})
    box = config["datasets"]["box"]
    assert {k: box[k] for k in ("lhco", "key", "label", "tree", "is_data")} == {
        "lhco": "events_LHCO2020_BlackBox1.features.h5", "key": None, "label": None, "tree": "Events", "is_data": False}


def test_unfolding_real_data_needs_no_pseudo_data_process():
    """With data_files the pseudo-data process may be absent (the schema's defaults have none)."""
    config = validate_config({"unfold": {"enabled": True, "data_files": ["/data/JetHT/*.root"]}})
    assert config["unfold"]["data"] == "qcd_alt" and "qcd_alt" not in config["generation"]["processes"]
    with pytest.raises(BumpfoldInputError, match="'unfold.data': process 'qcd_alt' is not in generation.processes"):
        validate_config({"unfold": {"enabled": True}})


def test_a_built_wheel_carries_the_config_schema(tmp_path):
    """A plain (non-editable) install must find the schema: it is package data."""
    import shutil
    import subprocess
    import sys
    import zipfile

    source = tmp_path / "source"  # a copy, so that the build leaves nothing in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "results", "logs", "benchmarks",
                                                                 ".snakemake", "*.egg-info", "build", ".whl"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path),
                    str(source)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("bumpfold-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bumpfold/schemas/config.schema.yaml" in names and "bumpfold/py.typed" in names


def test_planning_the_workflow_loads_no_heavy_library():
    """What the Snakefile imports (config, seeds, regions) loads none of numba, awkward,
    torch, Pythia, fastjet, uproot or pandas: every cluster job parses the Snakefile."""
    import subprocess
    import sys

    code = ("import sys, bumpfold.config, bumpfold.seeds, bumpfold.regions; print(' '.join(m for m in sys.modules if "
            "m.split('.')[0] in ('numba', 'awkward', 'torch', 'pythia8mc', 'pythia8', 'fastjet', 'uproot', 'pandas')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []


def test_the_schema_offers_the_registrys_methods():
    """One list of methods: the schema's enums are the registry's (all methods for the
    search, the classifier methods for the bump hunt's selections)."""
    from bumpfold.registry import CLASSIFIER_METHODS, METHODS

    schema = yaml.safe_load(SCHEMA_PATH.read_text())["properties"]
    assert schema["search"]["properties"]["methods"]["items"]["enum"] == list(METHODS)
    assert schema["bumphunt"]["properties"]["methods"]["items"]["enum"] == list(CLASSIFIER_METHODS)


def test_config_readme_is_generated_from_the_schema():
    """config/README.md lists the schema's keys: regenerate it when the schema changes
    (.venv/bin/python scripts/config_keys.py > config/README.md)."""
    import subprocess
    import sys

    from tests.conftest import ROOT as root

    printed = subprocess.run([sys.executable, str(root / "scripts" / "config_keys.py")], capture_output=True,
                             text=True, check=True).stdout
    assert printed == (root / "config" / "README.md").read_text()


def test_the_sculpting_systematic_needs_the_correction_and_a_second_simulation():
    base = {"generation": {"processes": {"qcd": {"kind": "qcd"}, "qcd_alt": {"kind": "qcd"},
                                         "wprime_3500_500_100": {"kind": "resonance"}}},
            "datasets": {"qcd": {"process": "qcd"}, "qcd_alt": {"process": "qcd_alt"},
                         "wprime_3500_500_100": {"process": "wprime_3500_500_100"}}}
    ok = validate_config({**copy.deepcopy(base), "bumphunt": {"sculpting_correction": True,
                                                             "sculpting_alternative": "qcd_alt"}})
    assert ok["bumphunt"]["sculpting_alternative"] == "qcd_alt"
    with pytest.raises(BumpfoldInputError, match="set bumphunt.sculpting_correction: true"):
        validate_config({**copy.deepcopy(base), "bumphunt": {"sculpting_alternative": "qcd_alt"}})
    for name in ("qcd", "nope"):
        with pytest.raises(BumpfoldInputError, match="other than search.background"):
            validate_config({**copy.deepcopy(base), "bumphunt": {"sculpting_correction": True,
                                                                 "sculpting_alternative": name}})
