import functools
from pathlib import Path

from bumpfold.config import search_methods, validate_config
from bumpfold.io.filelists import dataset_files as nanoaod_files, expand_pattern, is_remote, unique_files
from bumpfold.registry import CLASSIFIER_METHODS, INCLUSIVE, METHODS, variation_dataset
from bumpfold.runs import RUN_PATTERN, Run, injection_scan_runs, parse_run, toy_runs
from bumpfold.seeds import step_seed
from bumpfold.regions import Window, window_for_mass, windows_from_config

# Validates against workflow/schemas/config.schema.yaml (the package's schema), fills
# defaults, and checks what a schema cannot (SR inside the m_jj range, dataset -> process).
validate_config(config)

PROCESSES = config["generation"]["processes"]
DATASETS = config["datasets"]
SEARCH = config["search"]
BUMPHUNT = config["bumphunt"]
BUMPHUNT_ON = SEARCH["enabled"] and BUMPHUNT["enabled"]
UNFOLD = config["unfold"]
TOYS = config["toys"]
# whole-chain pseudo-experiments: runs "0_toy<k>" (and "<n>_toy<k>" with signal) of every step
TOY_RUNS = toy_runs(TOYS["n_toys"], TOYS["injections"], TOYS["injected_toys"])
WINDOWS = {w.name: w for w in windows_from_config(config["regions"])}
# signal systematics: every bump-hunt signal model regenerated through each varied detector
# with the nominal's Pythia events (its chunk seeds), as process and dataset "<name>__<variation>"
VARIATIONS = {f"{name}_{d}": pair[d] for name, pair in BUMPHUNT["signal_systematics"].items()
              for d in ("up", "down")} if BUMPHUNT_ON else {}
VARIED_PROCESSES = {variation_dataset(DATASETS[m]["process"], v): (DATASETS[m]["process"], v)
                    for m in BUMPHUNT["signal_models"] for v in VARIATIONS}
DATASETS = {**DATASETS, **{variation_dataset(m, v): {**DATASETS[m], "process": variation_dataset(DATASETS[m]["process"], v)}
                           for m in BUMPHUNT["signal_models"] for v in VARIATIONS}}
# the limits' injection scans: runs "<n>-<model>" in the window of the model's mass only
INJECTION_LIMITS = BUMPHUNT["injection_limits"]
SCAN_RUNS = injection_scan_runs(INJECTION_LIMITS["injections"], INJECTION_LIMITS["signal_models"]) if BUMPHUNT_ON else []
# the methods whose k folds run as separate jobs (ANODE trains one flow in the SR instead)
CLASSIFIER_METHOD_PATTERN = "|".join(CLASSIFIER_METHODS)


wildcard_constraints:
    process="[A-Za-z][A-Za-z0-9_]*",
    dataset="[A-Za-z][A-Za-z0-9_]*",
    chunk=r"\d+",
    part=r"\d+",
    injection=RUN_PATTERN,  # "200", or a toy: "0_toy7"
    window=r"sr\d+_\d+",
    method="|".join(SEARCH["methods"]),
    selection="|".join(BUMPHUNT["methods"] + [INCLUSIVE]),
    fold=r"\d+",
    member=r"\d+",
    iteration=r"[1-9]\d*",


def generation_settings():
    """The generation section without the process list (each job gets its own process)."""
    return {k: v for k, v in config["generation"].items() if k != "processes"}


def nominal_process(process):
    """The configured process a (possibly varied) process reprocesses."""
    return VARIED_PROCESSES.get(process, (process, None))[0]


def process_detector(wildcards):
    """generation.detector, with a varied process's variation applied."""
    variation = VARIED_PROCESSES.get(wildcards.process, (None, None))[1]
    return {**config["generation"]["detector"], **VARIATIONS.get(variation, {})}


def chunk_files(process):
    n = PROCESSES[nominal_process(process)]["chunks"]
    return [f"results/samples/{process}/chunk{i}.root" for i in range(n)]


def expand_files(patterns, key):
    """Paths and globs of the config key ``key``, globs expanded, each file once."""
    return unique_files(path for pattern in patterns for path in expand_pattern(pattern, key))


@functools.cache
def dataset_inputs(dataset):
    """The files of a dataset, one skim job each: generated chunks of a process, an LHC
    Olympics features file, or the user's NanoAOD files and URLs (globs and file lists
    expanded; cached, so that thousands of files plan once)."""
    spec = DATASETS[dataset]
    if "process" in spec:
        return chunk_files(spec["process"])
    if "lhco" in spec:
        return [spec["lhco"]]
    return nanoaod_files(dataset, spec.get("files", []), spec.get("file_list"))


def skim_file_path(wildcards):
    files = dataset_inputs(wildcards.dataset)
    part = int(wildcards.part)
    if part >= len(files):
        raise ValueError(f"dataset {wildcards.dataset!r} has {len(files)} files, no part {part}")
    return files[part]


def skim_file_inputs(wildcards):
    """The file itself where it is local (a URL is not a file Snakemake can check: it goes
    to the job as a parameter), and the dataset's golden JSON."""
    path = skim_file_path(wildcards)
    inputs = {} if is_remote(path) else {"file": path}
    golden_json = DATASETS[wildcards.dataset].get("quality", {}).get("golden_json")
    if golden_json is not None:
        inputs["golden_json"] = golden_json
    return inputs


def skim_file_spec(wildcards):
    """What a file's job needs of its dataset (tree, data-quality cuts, LHCO key and label),
    not the file list: adding a file to a dataset must not rerun every other file's job."""
    return {k: v for k, v in DATASETS[wildcards.dataset].items() if k not in ("files", "file_list", "luminosity_fb")}


def skim_parts(dataset, ext):
    return [f"results/skim/{dataset}/part{i}.{ext}" for i in range(len(dataset_inputs(dataset)))]


# The search keys each step reads: a rule gets only these as params, so that changing e.g.
# the oversampling does not retrain the flows.
WINDOW_KEYS = ("features", "min_events", "closure_fraction", "n_folds")
SEARCH_KEYS = {
    "datasets": ("features", "split"),
    "flow": WINDOW_KEYS + ("flow", "classifier", "device"),
    "samples": WINDOW_KEYS + ("oversampling", "classifier", "device"),  # the interpolation closure trains
    "score": WINDOW_KEYS + ("classifier", "device", "cwola_sideband_width", "oversampling", "autoencoder"),
    "bumphunt": ("split", "data"),
}


def search_params(step):
    return {key: SEARCH[key] for key in SEARCH_KEYS[step]}


def injected_model(wildcards):
    """The signal model a run injects: its own in an injection scan, else search.signal."""
    return parse_run(wildcards.injection).signal or SEARCH["signal"]


def search_role_inputs(wildcards):
    """The skimmed table of each configured role: data (observed), background and signal
    (an injection scan's run: its model); for a toy, the toys' background sample (and the signal)."""
    run = parse_run(wildcards.injection)
    roles = {role: SEARCH[role] for role in ("data", "background")}
    if run.toy is not None:
        roles = {"background": TOYS["background"]}
    roles["signal"] = injected_model(wildcards)
    return {role: f"results/skim/{name}.parquet" for role, name in roles.items() if name is not None}


def datasets_seed(wildcards):
    """An injection scan's run keeps the background split of the run without injection, so
    that it differs from it by the injected signal only (as CASE injected into its data)."""
    run = parse_run(wildcards.injection)
    return step_seed(config["seed"], "datasets", Run(0).label if run.signal is not None else wildcards.injection)


def toy_partition(wildcards):
    """A toy's share of the background (the same partition seed for every toy, so that the
    toys' slices are disjoint); None for the configured data."""
    if parse_run(wildcards.injection).toy is None:
        return None
    return {"n_toys": TOYS["n_toys"], "seed": step_seed(config["seed"], "toys", TOYS["background"])}


def score_inputs(wildcards):
    """Every classifier method reads the data sets, and the window outputs the registry names
    (CATHODE the SR samples, LaCATHODE the sideband flow)."""
    base = f"results/search/inj{wildcards.injection}/{wildcards.window}"
    inputs = {"datasets": f"results/search/inj{wildcards.injection}/datasets.parquet"}
    if "samples" in METHODS[wildcards.method].inputs:
        inputs["samples"] = f"{base}/samples.parquet"
    if "flow" in METHODS[wildcards.method].inputs:
        inputs["flow"] = f"{base}/flow.pt"
    return inputs


def range_score_inputs(wildcards):
    """The window's data sets; for a method's selection its SR scores and fold classifiers
    (LaCATHODE: and the sideband flow); every signal model's skim and cutflow."""
    search_dir = f"results/search/inj{wildcards.injection}/{wildcards.window}"
    inputs = {"datasets": f"results/search/inj{wildcards.injection}/datasets.parquet"}
    if wildcards.selection != INCLUSIVE:
        inputs["scores"] = f"{search_dir}/scores/{wildcards.selection}.parquet"
        inputs["models"] = f"{search_dir}/models/{wildcards.selection}.pkl"
        if "flow" in METHODS[wildcards.selection].inputs:  # LaCATHODE: classifiers on the flow's latent space
            inputs["flow"] = f"{search_dir}/flow.pt"
        if BUMPHUNT["sculpting_alternative"] is not None:  # the sculpting correction's systematic
            inputs["alternative"] = f"results/skim/{BUMPHUNT['sculpting_alternative']}.parquet"
    for model in range_signal_datasets(wildcards):
        inputs[f"signal_{model}"] = f"results/skim/{model}.parquet"
        inputs[f"cutflow_{model}"] = f"results/skim/{model}.cutflow.json"
    return inputs


def range_signal_datasets(wildcards):
    """The signal samples score_range scores: the run's models and their detector variations
    (not the injected model's: its varied samples hold the injected events)."""
    run = parse_run(wildcards.injection)
    injected = injected_model(wildcards) if run.n_injected > 0 else None
    return [d for m in run_signal_models(wildcards)
            for d in [m, *(variation_dataset(m, v) for v in VARIATIONS if m != injected)]]


def run_signal_models(wildcards):
    """The signal models a run's bump hunt sets limits on: an injection scan's run needs only its own."""
    signal = parse_run(wildcards.injection).signal
    return BUMPHUNT["signal_models"] if signal is None else [signal]


def run_bumphunt_settings(wildcards):
    """What one window's fit uses: not which selections run nor the injection scan, so that
    adding a selection or a scan point reruns no finished window (params trigger reruns)."""
    fit_keys = {key: value for key, value in BUMPHUNT.items() if key not in ("enabled", "methods", "injection_limits")}
    return {**fit_keys, "signal_models": run_signal_models(wildcards)}


def bumphunt_inputs(wildcards):
    """The selection's scored events over the range and its thresholds; the background
    cutflow (luminosity), if any."""
    search_dir = f"results/search/inj{wildcards.injection}/{wildcards.window}"
    inputs = {"range_scores": f"{search_dir}/range/{wildcards.selection}.parquet"}
    # a toy has no luminosity (a slice of the background): its signal is counted in events
    if SEARCH["background"] is not None and parse_run(wildcards.injection).toy is None:
        inputs["background_cutflow"] = f"results/skim/{SEARCH['background']}.cutflow.json"
    if wildcards.selection != INCLUSIVE:
        inputs["thresholds"] = f"{search_dir}/selection/{wildcards.selection}.json"
    return inputs


def declared_luminosity(wildcards):
    """The data's luminosity as the config declares it [fb^-1]: observed data's own, or the
    pseudo-data's background sample's (None: derived from the generator, or unknown; a toy)."""
    if not BUMPHUNT_ON or parse_run(wildcards.injection).toy is not None:
        return None
    role = SEARCH["data"] or SEARCH["background"]
    return DATASETS[role].get("luminosity_fb") if role else None


def observed_search_data():
    """Whether the search's data are collision data (NanoAOD files), so that their figures
    drop "Simulation" from the label; generated samples and LHC Olympics files are simulated."""
    return DATASETS.get(SEARCH["data"] or "", {}).get("is_data", False)


def observed_luminosity():
    """The declared luminosity of observed collision data [fb^-1], for the control plot's
    label (None: simulation only, or none declared)."""
    return DATASETS[SEARCH["data"]].get("luminosity_fb") if observed_search_data() else None


def signal_model_info(models):
    """Each model's topology and masses [GeV], for the limits' tables and figures."""
    return {m: {key: PROCESSES[DATASETS[m]["process"]][key] for key in ("topology", "m_resonance", "m_x", "m_y")}
            for m in models}


def model_window(model):
    """The window of a signal model's mass (validated to exist for a scanned model)."""
    return window_for_mass(list(WINDOWS.values()), PROCESSES[DATASETS[model]["process"]]["m_resonance"]).name


def injection_limit_inputs(wildcards):
    """Per scanned model, in its window: the bump hunts of the run without injection (every
    selection) and of its scan runs (the learning selections); and its cutflow."""
    inputs = {}
    for model in INJECTION_LIMITS["signal_models"]:
        window = model_window(model)
        files = [f"results/bumphunt/inj0/{window}/{s}.json" for s in BUMPHUNT["methods"] + [INCLUSIVE]]
        files += [f"results/bumphunt/inj{run.label}/{window}/{s}.json" for run in SCAN_RUNS if run.signal == model
                  for s in BUMPHUNT["methods"]]
        inputs[f"results_{model}"] = files
        inputs[f"cutflow_{model}"] = f"results/skim/{model}.cutflow.json"
    return inputs


def injection_limit_outputs():
    if not SCAN_RUNS:
        return []
    return ["results/limits/summary.json", "results/limits/limits.md"] + [
        f"results/limits/{name}.{ext}" for name in ("limits", "scenarios") for ext in ("png", "pdf")]


def bumphunt_results():
    return [f"results/bumphunt/inj{i}/{w}/{s}.json" for i in SEARCH["injections"] for w in WINDOWS
            for s in BUMPHUNT["methods"] + [INCLUSIVE]]


def toy_bumphunt_results():
    return [f"results/bumphunt/inj{run.label}/{w}/{s}.json" for run in TOY_RUNS for w in WINDOWS
            for s in BUMPHUNT["methods"] + [INCLUSIVE]]


def toys_outputs():
    if not TOY_RUNS:
        return []
    return ["results/toys/summary.json", "results/toys/toys.md"] + [
        f"results/toys/{name}.{ext}" for name in ("local_z", "linearity") for ext in ("png", "pdf")]


def bumphunt_outputs():
    if not BUMPHUNT_ON:
        return []
    return ["results/bumphunt/summary.json"] + [f"results/bumphunt/{name}.{ext}" for name in ("limits", "significance")
                                                for ext in ("png", "pdf")]


def window_methods(window):
    """Every search method that can run (IAD and the supervised classifier need simulation)
    in the comparison windows; elsewhere only what the bump hunt fits."""
    runnable = search_methods(SEARCH)
    compare = SEARCH["comparison_windows"]
    if compare is None or window in {Window(*sr, *config["regions"]["mjj_range"]).name for sr in compare}:
        return runnable
    needed = BUMPHUNT["methods"] if BUMPHUNT_ON else []
    return [m for m in runnable if m in needed] or runnable[:1]


def search_outputs():
    if not SEARCH["enabled"]:
        return []
    return ["results/search/summary.json"] + [
        f"results/search/inj{i}/{w}/selection/{m}.parquet"
        for i in SEARCH["injections"] for w in WINDOWS for m in window_methods(w)
    ]


def unfold_data_files():
    """The user's detector-level files (globs expanded), or the pseudo-data's chunks."""
    if not UNFOLD["enabled"]:
        return []
    if not UNFOLD["data_files"]:
        return chunk_files(UNFOLD["data"])
    return expand_files(UNFOLD["data_files"], "unfold.data_files")


def omnifold_iteration_inputs(wildcards):
    """The inputs, and the previous iteration's state after the first."""
    inputs = {"inputs": "results/unfold/inputs.npz"}
    iteration = int(wildcards.iteration)
    if iteration > 1:
        inputs["previous"] = f"results/unfold/omnifold/member{wildcards.member}/iter{iteration - 1}.npz"
    return inputs


def omnifold_iteration_files():
    """Every member's iterations, member by member, in order (unfold_summary splits them)."""
    return [f"results/unfold/omnifold/member{m}/iter{i}.npz"
            for m in range(UNFOLD["members"]) for i in range(1, UNFOLD["iterations"] + 1)]


def unfold_outputs():
    if not UNFOLD["enabled"]:
        return []
    return ["results/unfold/summary.json"] + [f"results/unfold/{name}.{ext}" for name in ("unfolded", "convergence")
                                              for ext in ("png", "pdf")]


def summary_page_inputs(wildcards):
    """The summary JSON of each stage that runs."""
    stages = {"search": SEARCH["enabled"], "bumphunt": BUMPHUNT_ON, "unfold": UNFOLD["enabled"], "toys": bool(TOY_RUNS)}
    inputs = {stage: f"results/{stage}/summary.json" for stage, on in stages.items() if on}
    if SCAN_RUNS:
        inputs["limits"] = "results/limits/limits.md"
    return inputs


def all_outputs():
    return (
        [f"results/skim/{d}.parquet" for d in DATASETS]
        + [f"results/skim/{d}.cutflow.json" for d in DATASETS]
        + ["results/plots/control.png", "results/plots/control.pdf", "results/summary.md"]
        + search_outputs()
        + bumphunt_outputs()
        + unfold_outputs()
        + toys_outputs()
        + injection_limit_outputs()
    )
