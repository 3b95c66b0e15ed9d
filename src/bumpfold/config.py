"""Configuration: load, validate against the schema (filling defaults) and check values a
schema cannot. Imports no domain module, so planning the workflow loads none of Pythia,
numba, awkward or torch; bumpfold.settings turns sections into the library's dataclasses."""

from __future__ import annotations

import copy
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from bumpfold.errors import BumpfoldInputError
from bumpfold.regions import window_for_mass, windows_from_config
from bumpfold.registry import METHODS
from bumpfold.settings import process_spec

SCHEMA_PATH = Path(str(files("bumpfold") / "schemas" / "config.schema.yaml"))


def _schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _with_defaults(validator_class):
    """A validator that also fills in schema defaults (the jsonschema FAQ recipe)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    # JSON Schema counts 7.0 as an integer; here it is not (seed 7.0 seeded Pythia differently
    # from 7, and float chunk counts crashed later): whole-number floats are refused
    type_checker = validator_class.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool))
    return jsonschema.validators.extend(validator_class, {"properties": set_defaults}, type_checker=type_checker)


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    where = _key_path(error)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        prefix = "" if where == "<top level>" else where + "."
        return (f"config key {prefix + unknown[0]!r}: unknown key"
                + (f" (allowed here: {', '.join(allowed)})" if allowed else ""))
    if error.validator == "oneOf" and where.startswith("datasets."):
        return (f"config key {where!r}: give exactly one of 'process' (a generated sample), 'files' and/or "
                "'file_list' (NanoAOD paths or URLs) or 'lhco' (an LHC Olympics features file)")
    return f"config key {where!r}: {error.message}"


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Validate in place, fill defaults, and return ``config``.

    Raises BumpfoldInputError naming the key and the cause for unknown keys, wrong types,
    out-of-range values and impossible combinations (an SR outside the m_jj range, a
    dataset naming a process that is not generated, ...).
    """
    schema = _schema()
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise BumpfoldInputError(_describe(errors[0]))
    # additionalProperties sub-schemas (processes, datasets) get defaults on a second pass
    validator.validate(config)
    _check_values(config)
    return config


def _nanoaod_only_defaults() -> dict[str, Any]:
    """The schema's defaults of the dataset keys that only NanoAOD files may set."""
    keys = _schema()["properties"]["datasets"]["additionalProperties"]["properties"]
    quality = {k: v["default"] for k, v in keys["quality"]["properties"].items()}
    return {"is_data": keys["is_data"]["default"], "quality": quality}


def _check_values(config: dict[str, Any]) -> None:
    processes = config["generation"]["processes"]
    nanoaod_only = _nanoaod_only_defaults()
    for name, dataset in config["datasets"].items():
        for key in ("key", "label"):
            if dataset[key] is not None and "lhco" not in dataset:
                raise BumpfoldInputError(f"config key 'datasets.{name}.{key}': only for an 'lhco' dataset")
        nanoaod = "files" in dataset or "file_list" in dataset
        for key, default in nanoaod_only.items():
            if dataset[key] != default and not nanoaod:
                raise BumpfoldInputError(f"config key 'datasets.{name}.{key}': only for NanoAOD files "
                                         "('files' or 'file_list')")
        if "process" in dataset and dataset["process"] not in processes:
            raise BumpfoldInputError(
                f"config key 'datasets.{name}.process': process {dataset['process']!r} is not in "
                f"generation.processes ({', '.join(processes)})")
    for name, proc in processes.items():
        problem = process_spec(name, proc).problem()
        if problem is not None:
            raise BumpfoldInputError(f"config key 'generation.processes.{name}': {problem}")
    _check_search_roles(config)
    low, high = config["regions"]["mjj_range"]
    if not low < high:
        raise BumpfoldInputError(f"config key 'regions.mjj_range': low {low} must be below high {high}")
    for i, (sr_low, sr_high) in enumerate(config["regions"]["signal_regions"]):
        if not sr_low < sr_high:
            raise BumpfoldInputError(
                f"config key 'regions.signal_regions[{i}]': low {sr_low} must be below high {sr_high}")
        if sr_low <= low or sr_high >= high:
            raise BumpfoldInputError(
                f"config key 'regions.signal_regions[{i}]': SR [{sr_low}, {sr_high}] must lie inside "
                f"regions.mjj_range [{low}, {high}] so that sidebands remain on both sides")
    for sr in config["search"]["comparison_windows"] or []:
        if list(sr) not in [list(w) for w in config["regions"]["signal_regions"]]:
            raise BumpfoldInputError(
                f"config key 'search.comparison_windows': {sr} is not one of regions.signal_regions")
    _check_search_sizes(config)
    _check_bumphunt(config)
    _check_toys(config)
    _check_unfold(config)


def skipped_methods(search: dict[str, Any]) -> dict[str, str]:
    """The configured methods that cannot run with the search's datasets (the simulation
    roles the registry says they need), and why."""
    missing = {m: [role for role in METHODS[m].needs if search[role] is None] for m in search["methods"]}
    return {m: f"no {' or '.join(roles)} simulation" for m, roles in missing.items() if roles}


def search_methods(search: dict[str, Any]) -> list[str]:
    """The configured methods that run (see :func:`skipped_methods`)."""
    skipped = skipped_methods(search)
    return [m for m in search["methods"] if m not in skipped]


def _check_search_roles(config: dict[str, Any]) -> None:
    """Each role names a dataset; pseudo-data need background and signal; observed data may
    have neither, but without a signal there is nothing to inject."""
    search = config["search"]
    if not search["enabled"]:
        return
    for key in ("data", "background", "signal"):
        if search[key] is not None and search[key] not in config["datasets"]:
            raise BumpfoldInputError(
                f"config key 'search.{key}': dataset {search[key]!r} is not in datasets "
                f"({', '.join(config['datasets'])})")
    if search["data"] is None:
        for key in ("background", "signal"):
            if search[key] is None:
                raise BumpfoldInputError(f"config key 'search.{key}': pseudo-data (search.data null) are built from "
                                         "a background and an injected signal; name both, or name observed data")
    elif search["signal"] is None and any(search["injections"]):
        raise BumpfoldInputError(
            f"config key 'search.injections': {max(search['injections'])} signal events to inject into the "
            "observed data "
            "but no signal model to take them from (search.signal is null); use injections: [0]")
    if not search_methods(search):
        raise BumpfoldInputError(f"config key 'search.methods': none can run ({skipped_methods(search)})")


def _check_search_sizes(config: dict[str, Any]) -> None:
    """What the numbers already rule out before any job: a split with no ideal sample left,
    and an injection larger than every signal event the config generates could supply."""
    search = config["search"]
    if not search["enabled"]:
        return
    split = search["split"]
    if split["data_fraction"] + split["test_fraction"] >= 1:
        raise BumpfoldInputError(
            f"config key 'search.split': data_fraction {split['data_fraction']} + test_fraction "
            f"{split['test_fraction']} must be below 1 (the rest is the idealised background sample)")
    source = config["datasets"].get(search["signal"] or "", {})
    process = config["generation"]["processes"].get(source.get("process"))
    if process is not None:
        available = process["events_per_chunk"] * process["chunks"] * (1 - split["signal_test_fraction"])
        too_large = [n for n in search["injections"] if n > available]
        if too_large:
            raise BumpfoldInputError(
                f"config key 'search.injections': {max(too_large)} signal events, but {search['signal']} generates "
                f"{process['events_per_chunk'] * process['chunks']} and keeps {1 - split['signal_test_fraction']:g} of "
                f"them for injection, at most {available:.0f} before any selection")


def _check_unfold(config: dict[str, Any]) -> None:
    unfold = config["unfold"]
    if not unfold["enabled"]:
        return
    processes = config["generation"]["processes"]
    for key in ("simulation",) if unfold["data_files"] else ("simulation", "data"):
        if unfold[key] not in processes:
            raise BumpfoldInputError(
                f"config key 'unfold.{key}': process {unfold[key]!r} is not in generation.processes "
                f"({', '.join(processes)}); the unfolding needs generated particle- and detector-level jets")
    if not unfold["data_files"] and unfold["simulation"] == unfold["data"]:
        raise BumpfoldInputError(
            "config key 'unfold.data': the pseudo-data must be another process than the simulation")


def _check_bumphunt(config: dict[str, Any]) -> None:
    bumphunt = config["bumphunt"]
    if not (bumphunt["enabled"] and config["search"]["enabled"]):
        return
    missing = [m for m in bumphunt["methods"] if m not in config["search"]["methods"]]
    if missing:
        raise BumpfoldInputError(f"config key 'bumphunt.methods': {', '.join(missing)} not in search.methods")
    if not bumphunt["signal_models"]:
        if config["search"]["signal"] is None:
            raise BumpfoldInputError("config key 'bumphunt.signal_models': limits need signal models (generated "
                                     "resonance datasets); search.signal is null, so name them here")
        bumphunt["signal_models"] = [config["search"]["signal"]]
    for name in bumphunt["signal_models"]:
        process = config["datasets"].get(name, {}).get("process")
        if process is None or config["generation"]["processes"][process]["kind"] != "resonance":
            raise BumpfoldInputError(
                f"config key 'bumphunt.signal_models': {name!r} is not a dataset of a generated resonance process "
                "(limits need the generated-event count and the mass)")
    alternative = bumphunt["sculpting_alternative"]
    if alternative is not None:
        if not bumphunt["sculpting_correction"]:
            raise BumpfoldInputError("config key 'bumphunt.sculpting_alternative': a systematic of the sculpting "
                                     "correction; set bumphunt.sculpting_correction: true")
        if alternative not in config["datasets"] or alternative == config["search"]["background"]:
            raise BumpfoldInputError(f"config key 'bumphunt.sculpting_alternative': {alternative!r} must be a dataset "
                                     "other than search.background (a second background simulation)")
    _check_selection_bias(bumphunt, config["search"]["efficiencies"])
    _check_injection_limits(config)
    _check_signal_systematics(config)
    fit = bumphunt["fit"]
    if fit["min_params"] > fit["max_params"]:
        raise BumpfoldInputError("config key 'bumphunt.fit': min_params must not exceed max_params")
    low, high = config["regions"]["mjj_range"]
    width = bumphunt["bin_width"]
    for edge in [low, high] + [e for sr in config["regions"]["signal_regions"] for e in sr]:
        steps = (edge - low) / width
        if abs(steps - round(steps)) > 1e-6:
            raise BumpfoldInputError(
                f"config key 'bumphunt.bin_width': {width:g} GeV bins from {low:g} GeV do not have an edge at "
                f"{edge:g} GeV (the m_jj range and every window edge must be bin edges)")


def _check_signal_systematics(config: dict[str, Any]) -> None:
    """Each variation names detector parameters (generation.detector's keys) with valid values."""
    detector_schema = _schema()["properties"]["generation"]["properties"]["detector"]
    for name, pair in config["bumphunt"]["signal_systematics"].items():
        for direction, params in pair.items():
            key = f"config key 'bumphunt.signal_systematics.{name}.{direction}"
            try:  # the detector's own schema, so that a value out of range fails as it would there
                jsonschema.validate({**config["generation"]["detector"], **params},
                                    {**detector_schema, "default": None})
            except jsonschema.ValidationError as err:
                where = ".".join(map(str, err.absolute_path))
                raise BumpfoldInputError(f"{key}{'.' + where if where else ''}': {err.message}") from None


def _check_injection_limits(config: dict[str, Any]) -> None:
    """The scan's models are limits' signal models with a window that holds their mass, and
    enough signal to inject; the run without injection gives the data's limits."""
    scan, bumphunt = config["bumphunt"]["injection_limits"], config["bumphunt"]
    if scan["signal_models"] is None:
        scan["signal_models"] = list(bumphunt["signal_models"])
    if not scan["injections"]:
        return
    key = "config key 'bumphunt.injection_limits"
    if 0 not in config["search"]["injections"]:
        raise BumpfoldInputError(f"{key}': the limits use the data without injection; add 0 to search.injections")
    windows = windows_from_config(config["regions"])
    for name in scan["signal_models"]:
        if name not in bumphunt["signal_models"]:
            raise BumpfoldInputError(f"{key}.signal_models': {name!r} is not one of bumphunt.signal_models "
                                     f"({', '.join(bumphunt['signal_models'])})")
        process = config["generation"]["processes"][config["datasets"][name]["process"]]
        if window_for_mass(windows, process["m_resonance"]) is None:
            raise BumpfoldInputError(f"{key}.signal_models': {name!r} has its mass {process['m_resonance']:g} GeV "
                                     "in no window of regions.signal_regions")
        generated = process["events_per_chunk"] * process["chunks"]
        if max(scan["injections"]) >= generated:
            raise BumpfoldInputError(f"{key}.injections': {max(scan['injections'])} signal events, but {name} "
                                     f"generates {generated}")


def _check_selection_bias(bumphunt: dict[str, Any], efficiencies: list[float]) -> None:
    """Each entry names a bump-hunt selection and its searched efficiencies, as the bump
    hunt's rows write them ("0.1")."""
    known = {f"{e:g}" for e in efficiencies}
    for selection, by_efficiency in bumphunt["selection_bias"].items():
        if selection not in bumphunt["methods"]:
            raise BumpfoldInputError(f"config key 'bumphunt.selection_bias.{selection}': not one of bumphunt.methods "
                                     f"({', '.join(bumphunt['methods'])})")
        for efficiency in by_efficiency:
            if efficiency not in known:
                raise BumpfoldInputError(f"config key 'bumphunt.selection_bias.{selection}.{efficiency}': not one of "
                                         f"search.efficiencies ({', '.join(sorted(known))})")


def _check_toys(config: dict[str, Any]) -> None:
    """Toys repeat the bump hunt's data-driven methods on slices of a background sample."""
    toys, search = config["toys"], config["search"]
    if toys["n_toys"] == 0:
        if toys["injections"]:
            raise BumpfoldInputError("config key 'toys.injections': injected toys rerun background-only toys; "
                                     "set toys.n_toys")
        return
    if not (search["enabled"] and config["bumphunt"]["enabled"]):
        raise BumpfoldInputError("config key 'toys.n_toys': toys repeat the search and the bump hunt; "
                                 "enable both (search.enabled, bumphunt.enabled)")
    toys["background"] = toys["background"] or search["background"]
    if toys["background"] not in config["datasets"]:
        raise BumpfoldInputError(f"config key 'toys.background': {toys['background']!r} is not a dataset "
                                 "(the toys' background sample; null takes search.background)")
    simulated = [m for m in config["bumphunt"]["methods"] if METHODS[m].needs]
    if simulated:
        raise BumpfoldInputError(f"config key 'bumphunt.methods': {', '.join(simulated)} need(s) simulation, which a "
                                 "toy does not have (toys repeat the methods that learn from data alone)")
    if toys["injections"] and search["signal"] is None:
        raise BumpfoldInputError("config key 'toys.injections': injected toys need search.signal")


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file and validate it."""
    path = Path(path)
    if not path.is_file():
        raise BumpfoldInputError(f"{path}: no such config file")
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise BumpfoldInputError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(config, dict):
        raise BumpfoldInputError(f"{path}: the config must be a mapping of keys")
    return validate_config(config)


def process_id(config: dict[str, Any], name: str) -> int:
    """A stable integer per process: its position in the config (0 = first)."""
    return list(config["generation"]["processes"]).index(name)
