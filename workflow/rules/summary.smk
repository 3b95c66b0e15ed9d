rule summary_page:
    """results/summary.md: the headline numbers of every stage that ran, with provenance."""
    input:
        unpack(summary_page_inputs),
    output:
        report("results/summary.md", caption="../report/summary.rst", category="Summary"),
    log:
        "logs/summary_page/summary.log",
    benchmark:
        "benchmarks/summary_page/summary.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/summary_page.py"
