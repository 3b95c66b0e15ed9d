# Unfolding: the simulation and pseudo-data jets, OmniFold iterations chained per ensemble
# member (members in parallel), IBU and the generative unfolding beside it, then the
# comparison with the truth.
UNFOLD_DIR = "results/unfold"


rule unfold_inputs:
    """Leading-jet observables at both levels of the simulation and the pseudo-data; binning."""
    input:
        simulation=chunk_files(UNFOLD["simulation"]) if UNFOLD["enabled"] else [],
        data=unfold_data_files(),
    output:
        f"{UNFOLD_DIR}/inputs.npz",
    log:
        "logs/unfold_inputs/unfold_inputs.log",
    benchmark:
        "benchmarks/unfold_inputs/unfold_inputs.tsv"
    params:
        unfold=UNFOLD,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/unfold_inputs.py"


rule omnifold_iteration:
    """One OmniFold iteration (step 1 at detector level, step 2 at particle level) of one member."""
    input:
        unpack(omnifold_iteration_inputs),
    output:
        f"{UNFOLD_DIR}/omnifold/member{{member}}/iter{{iteration}}.npz",
    log:
        "logs/omnifold_iteration/member{member}_iter{iteration}.log",
    benchmark:
        "benchmarks/omnifold_iteration/member{member}_iter{iteration}.tsv"
    params:
        unfold=UNFOLD,
        seed=step_seed(config["seed"], "unfold"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/omnifold_iteration.py"


rule unfold_ibu:
    """Iterative Bayesian unfolding per observable, of the data and the members' bootstrap replicas."""
    input:
        inputs=f"{UNFOLD_DIR}/inputs.npz",
    output:
        f"{UNFOLD_DIR}/ibu.json",
    log:
        "logs/unfold_ibu/unfold_ibu.log",
    benchmark:
        "benchmarks/unfold_ibu/unfold_ibu.tsv"
    params:
        unfold=UNFOLD,
        seed=step_seed(config["seed"], "unfold"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/unfold_ibu.py"


rule unfold_generative:
    """Generative unfolding: a conditional flow p(gen | reco) on the simulation, sampled per data event."""
    input:
        inputs=f"{UNFOLD_DIR}/inputs.npz",
    output:
        f"{UNFOLD_DIR}/generative.npz",
    log:
        "logs/unfold_generative/unfold_generative.log",
    benchmark:
        "benchmarks/unfold_generative/unfold_generative.tsv"
    params:
        unfold=UNFOLD,
        seed=step_seed(config["seed"], "unfold generative"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/unfold_generative.py"


rule unfold_summary:
    """Unfolded distributions and metrics against the truth; plots."""
    input:
        inputs=f"{UNFOLD_DIR}/inputs.npz",
        iterations=omnifold_iteration_files(),
        ibu=f"{UNFOLD_DIR}/ibu.json",
        generative=[f"{UNFOLD_DIR}/generative.npz"] if UNFOLD["generative"]["enabled"] else [],
    output:
        summary=f"{UNFOLD_DIR}/summary.json",
        distributions=report(f"{UNFOLD_DIR}/unfolded.png", caption="../report/unfold_distributions.rst",
                             category="Unfolding"),
        convergence=report(f"{UNFOLD_DIR}/convergence.png", caption="../report/unfold_convergence.rst",
                           category="Unfolding"),
        distributions_pdf=f"{UNFOLD_DIR}/unfolded.pdf",
        convergence_pdf=f"{UNFOLD_DIR}/convergence.pdf",
    log:
        "logs/unfold_summary/unfold_summary.log",
    benchmark:
        "benchmarks/unfold_summary/unfold_summary.tsv"
    params:
        members=UNFOLD["members"],
        iterations=UNFOLD["iterations"],
        sqrt_s=config["generation"]["sqrt_s"],
        observed=bool(UNFOLD["data_files"]),  # the user's detector-level files: collision data
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/unfold_summary.py"
