# Bump hunt: per injection, SR window and selection (a search method, or "inclusive"), from
# the events that rule score_range (search.smk) scored over the m_jj range, the dijet fit and
# the pyhf models of every efficiency and signal model (statistics only); then the summary.
BUMPHUNT_DIR = "results/bumphunt/inj{injection}/{window}"


rule bumphunt_window:
    """Select, fit the background outside the window, pyhf inside; the window's plot."""
    input:
        unpack(bumphunt_inputs),
    output:
        result=f"{BUMPHUNT_DIR}/{{selection}}.json",
        workspaces=directory(f"{BUMPHUNT_DIR}/workspaces/{{selection}}"),
        plot=report(f"{BUMPHUNT_DIR}/{{selection}}.png", caption="../report/bumphunt_window.rst",
                    category="Bump hunt", subcategory="{window}"),
        pdf=f"{BUMPHUNT_DIR}/{{selection}}.pdf",
    log:
        "logs/bumphunt_window/inj{injection}_{window}_{selection}.log",
    benchmark:
        "benchmarks/bumphunt_window/inj{injection}_{window}_{selection}.tsv"
    params:
        search=search_params("bumphunt"),
        bumphunt=run_bumphunt_settings,
        window=lambda wc: WINDOWS[wc.window],
        sqrt_s=config["generation"]["sqrt_s"],
        luminosity=declared_luminosity,
        observed=observed_search_data(),
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/bumphunt_window.py"


rule bumphunt_summary:
    """Summary JSON, CASE-like limits table, significance per window, Brazil-band limits."""
    input:
        results=bumphunt_results(),
    output:
        summary="results/bumphunt/summary.json",
        table=report("results/bumphunt/limits.md", caption="../report/bumphunt_limits.rst", category="Bump hunt"),
        significance=report("results/bumphunt/significance.png", caption="../report/bumphunt_significance.rst",
                            category="Bump hunt"),
        limits=report("results/bumphunt/limits.png", caption="../report/bumphunt_limits_plot.rst",
                      category="Bump hunt"),
        significance_pdf="results/bumphunt/significance.pdf",
        limits_pdf="results/bumphunt/limits.pdf",
    log:
        "logs/bumphunt_summary/summary.log",
    benchmark:
        "benchmarks/bumphunt_summary/summary.tsv"
    params:
        models=signal_model_info(BUMPHUNT["signal_models"]) if BUMPHUNT_ON else {},
        sqrt_s=config["generation"]["sqrt_s"],
        observed=observed_search_data(),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/bumphunt_summary.py"


rule toys_summary:
    """Whole-chain pseudo-experiments: local Z without signal per window, selection and
    efficiency; the trials factor; the fitted signal against the injected (linearity)."""
    input:
        results=toy_bumphunt_results(),
    output:
        summary="results/toys/summary.json",
        table=report("results/toys/toys.md", caption="../report/toys.rst", category="Toys"),
        local_z=report("results/toys/local_z.png", caption="../report/toys_local_z.rst", category="Toys"),
        local_z_pdf="results/toys/local_z.pdf",
        linearity=report("results/toys/linearity.png", caption="../report/toys_linearity.rst", category="Toys"),
        linearity_pdf="results/toys/linearity.pdf",
    log:
        "logs/toys_summary/summary.log",
    benchmark:
        "benchmarks/toys_summary/summary.tsv"
    params:
        signal=SEARCH["signal"],
        sqrt_s=config["generation"]["sqrt_s"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/toys_summary.py"


rule injection_limits:
    """CASE's limits: each scanned signal model's excluded cross section per selection and
    efficiency, from its injection scan and the data's limits without injection."""
    input:
        unpack(injection_limit_inputs),
    output:
        summary="results/limits/summary.json",
        table=report("results/limits/limits.md", caption="../report/injection_limits.rst", category="Limits"),
        limits=report("results/limits/limits.png", caption="../report/injection_limits_plot.rst", category="Limits"),
        scenarios=report("results/limits/scenarios.png", caption="../report/injection_limits_scenarios.rst",
                         category="Limits"),
        limits_pdf="results/limits/limits.pdf",
        scenarios_pdf="results/limits/scenarios.pdf",
    log:
        "logs/injection_limits/limits.log",
    benchmark:
        "benchmarks/injection_limits/limits.tsv"
    params:
        models=lambda wc: signal_model_info(INJECTION_LIMITS["signal_models"]),
        sqrt_s=config["generation"]["sqrt_s"],
        observed=observed_search_data(),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/injection_limits.py"
