# Anomaly search: per injection and SR window, the sideband flow, SR samples, the scores
# of every method, the top-efficiency selections, and the evaluation on the test set.
SEARCH_DIR = "results/search/inj{injection}/{window}"
# a classifier method's fold results, written by score_fold (a job each) or score_folds (one job)
FOLD_FILES = expand(f"{SEARCH_DIR}/folds/{{method}}/fold{{fold}}.pkl", fold=range(SEARCH["n_folds"]), allow_missing=True)


rule search_datasets:
    """The data (pseudo-data with the injected signal, or observed data), the labelled test
    set and the idealised background, from the datasets of the search's roles."""
    input:
        unpack(search_role_inputs),
    output:
        "results/search/inj{injection}/datasets.parquet",
    log:
        "logs/search_datasets/inj{injection}.log",
    benchmark:
        "benchmarks/search_datasets/inj{injection}.tsv"
    params:
        search=search_params("datasets"),
        toys=toy_partition,
        seed=datasets_seed,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/search_datasets.py"


rule train_flow:
    """Conditional flow p(x | m_jj) on the sideband data, and its closure test."""
    input:
        datasets="results/search/inj{injection}/datasets.parquet",
    output:
        model=f"{SEARCH_DIR}/flow.pt",
        closure=f"{SEARCH_DIR}/closure.json",
    log:
        "logs/train_flow/inj{injection}_{window}.log",
    benchmark:
        "benchmarks/train_flow/inj{injection}_{window}.tsv"
    params:
        search=search_params("flow"),
        window=lambda wc: WINDOWS[wc.window],
        seed=lambda wc: step_seed(config["seed"], "flow", wc.injection, wc.window),
    threads: 1
    resources:
        mem_mb=1500,
        runtime=15,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/train_flow.py"


rule sample_sr:
    """Background samples in the SR (m_jj from a logit-space KDE of the SR data, features from
    the flow) and the interpolation closure against the true SR background."""
    input:
        datasets="results/search/inj{injection}/datasets.parquet",
        model=f"{SEARCH_DIR}/flow.pt",
    output:
        samples=f"{SEARCH_DIR}/samples.parquet",
        interpolation=f"{SEARCH_DIR}/interpolation.json",
    log:
        "logs/sample_sr/inj{injection}_{window}.log",
    benchmark:
        "benchmarks/sample_sr/inj{injection}_{window}.tsv"
    params:
        search=search_params("samples"),
        window=lambda wc: WINDOWS[wc.window],
        seed=lambda wc: step_seed(config["seed"], "samples", wc.injection, wc.window),
    threads: 1
    # 60 min: the interpolation closure trains the search's classifier (k folds) on the samples
    # against the true SR background; with CATHODE's MLP (100 epochs, ~90k event-epochs/s on one
    # core, bench_classifier_scale.py) ~13 min at benchmark scale, ~38 min at LHC Olympics
    # statistics (extrapolated); boosted trees take seconds
    resources:
        mem_mb=3000,
        runtime=60,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/sample_sr.py"


if SEARCH["fold_jobs"]:

    rule score_fold:
        """One fold of a classifier method: its ensemble trained on the other folds, scoring its own."""
        input:
            unpack(score_inputs),
        output:
            f"{SEARCH_DIR}/folds/{{method}}/fold{{fold}}.pkl",
        wildcard_constraints:
            method=CLASSIFIER_METHOD_PATTERN,
        log:
            "logs/score_fold/inj{injection}_{window}_{method}_{fold}.log",
        benchmark:
            "benchmarks/score_fold/inj{injection}_{window}_{method}_{fold}.tsv"
        params:
            search=search_params("score"),
            window=lambda wc: WINDOWS[wc.window],
            # the same seed for every fold: the folds and ensemble seeds derive from it and the fold
            seed=lambda wc: step_seed(config["seed"], "score", wc.injection, wc.window, wc.method),
        threads: 1
        # 30 min: CATHODE's MLP took ~2 min per fold at 30 epochs at benchmark scale (2026-11-26),
        # so ~7 min at its 100; at LHC Olympics statistics (2.8x the SR events) ~20 min, extrapolated
        resources:
            mem_mb=1500,
            runtime=30,
        conda:
            "../../envs/bumpfold.yaml"
        script:
            "../../scripts/score_fold.py"

else:

    rule score_folds:
        """Every fold of a classifier method in one job, one after the other (search.fold_jobs
        false): the same fold files as score_fold's, with one job start instead of k."""
        input:
            unpack(score_inputs),
        output:
            FOLD_FILES,
        wildcard_constraints:
            method=CLASSIFIER_METHOD_PATTERN,
        log:
            "logs/score_folds/inj{injection}_{window}_{method}.log",
        benchmark:
            "benchmarks/score_folds/inj{injection}_{window}_{method}.tsv"
        params:
            search=search_params("score"),
            window=lambda wc: WINDOWS[wc.window],
            seed=lambda wc: step_seed(config["seed"], "score", wc.injection, wc.window, wc.method),
        threads: 1
        resources:
            mem_mb=1500,
            runtime=30 * SEARCH["n_folds"],
        conda:
            "../../envs/bumpfold.yaml"
        script:
            "../../scripts/score_fold.py"


rule combine_folds:
    """Out-of-fold anomaly scores of the SR data and the SR test set from the fold jobs."""
    input:
        unpack(score_inputs),
        folds=FOLD_FILES,
    output:
        scores=f"{SEARCH_DIR}/scores/{{method}}.parquet",
        models=f"{SEARCH_DIR}/models/{{method}}.pkl",
    wildcard_constraints:
        method=CLASSIFIER_METHOD_PATTERN,
    log:
        "logs/combine_folds/inj{injection}_{window}_{method}.log",
    benchmark:
        "benchmarks/combine_folds/inj{injection}_{window}_{method}.tsv"
    params:
        search=search_params("score"),
        window=lambda wc: WINDOWS[wc.window],
        seed=lambda wc: step_seed(config["seed"], "score", wc.injection, wc.window, wc.method),
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/combine_folds.py"


rule score_anode:
    """ANODE: a second flow trained on SR data, scored by the density ratio to the SB flow."""
    input:
        datasets="results/search/inj{injection}/datasets.parquet",
        model=f"{SEARCH_DIR}/flow.pt",
    output:
        scores=f"{SEARCH_DIR}/scores/anode.parquet",
        models=f"{SEARCH_DIR}/models/anode.pkl",
    log:
        "logs/score_anode/inj{injection}_{window}.log",
    benchmark:
        "benchmarks/score_anode/inj{injection}_{window}.tsv"
    params:
        search=search_params("flow"),
        window=lambda wc: WINDOWS[wc.window],
        seed=lambda wc: step_seed(config["seed"], "score", wc.injection, wc.window, "anode"),
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/score_anode.py"


rule select:
    """The most anomalous SR data events at each configured efficiency."""
    input:
        f"{SEARCH_DIR}/scores/{{method}}.parquet",
    output:
        selected=f"{SEARCH_DIR}/selection/{{method}}.parquet",
        thresholds=f"{SEARCH_DIR}/selection/{{method}}.json",
    log:
        "logs/select/inj{injection}_{window}_{method}.log",
    benchmark:
        "benchmarks/select/inj{injection}_{window}_{method}.tsv"
    params:
        efficiencies=SEARCH["efficiencies"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/select.py"


rule evaluate_window:
    """ROC and SIC of all methods on the window's labelled test set."""
    input:
        scores=lambda wc: expand(f"results/search/inj{wc.injection}/{wc.window}/scores/{{method}}.parquet",
                                 method=window_methods(wc.window)),
        closure=f"{SEARCH_DIR}/closure.json",
        interpolation=f"{SEARCH_DIR}/interpolation.json",
    output:
        metrics=f"{SEARCH_DIR}/metrics.json",
        plot=report(f"{SEARCH_DIR}/roc_sic.png", caption="../report/roc_sic.rst", category="Search"),
        pdf=f"{SEARCH_DIR}/roc_sic.pdf",
    log:
        "logs/evaluate_window/inj{injection}_{window}.log",
    benchmark:
        "benchmarks/evaluate_window/inj{injection}_{window}.tsv"
    params:
        methods=lambda wc: window_methods(wc.window),
        sqrt_s=config["generation"]["sqrt_s"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/evaluate_window.py"


rule search_summary:
    """Per method, window and injection: max SIC, SIC at eps_S = 0.2, AUC, sizes."""
    input:
        metrics=expand("results/search/inj{injection}/{window}/metrics.json",
                       injection=SEARCH["injections"], window=list(WINDOWS)),
    output:
        summary="results/search/summary.json",
        plot=report("results/search/sic_vs_injection.png", caption="../report/sic_vs_injection.rst",
                    category="Search"),
        pdf="results/search/sic_vs_injection.pdf",
    log:
        "logs/search_summary/summary.log",
    benchmark:
        "benchmarks/search_summary/summary.tsv"
    params:
        sqrt_s=config["generation"]["sqrt_s"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/search_summary.py"


rule score_range:
    """Score the data in the whole m_jj range, the unseen background simulation and each
    signal model with the selection's classifiers: what the bump hunt reads."""
    input:
        unpack(range_score_inputs),
    output:
        "results/search/inj{injection}/{window}/range/{selection}.parquet",
    log:
        "logs/score_range/inj{injection}_{window}_{selection}.log",
    benchmark:
        "benchmarks/score_range/inj{injection}_{window}_{selection}.tsv"
    params:
        features=SEARCH["features"],
        window=lambda wc: WINDOWS[wc.window],
        signal_models=range_signal_datasets,
        injected_model=injected_model,
        # the unseen background simulation is what the sculpting correction measures
        score_reference=BUMPHUNT["sculpting_correction"],
        seed=lambda wc: step_seed(config["seed"], "bumphunt", wc.injection, wc.window, wc.selection),
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/score_range.py"
