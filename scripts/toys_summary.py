"""Snakemake glue for rule toys_summary."""

from bumpfold.bumphunt.toys import load_rows, summarize_toys, toys_table
from bumpfold.io.atomic import atomic_path, write_json
from bumpfold.logs import job_logging
from bumpfold.plotting.toys import plot_linearity, plot_local_z
from bumpfold.provenance import provenance, stamp

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    o, p = snakemake.output, snakemake.params  # noqa: F821
    rows = load_rows(list(snakemake.input.results))  # noqa: F821
    summary = summarize_toys(rows, signal=p.signal)
    write_json(summary, o.summary)
    with atomic_path(o.table) as tmp:
        tmp.write_text(toys_table(summary))
    plot_local_z(rows, o.local_z, sqrt_s=p.sqrt_s)
    plot_linearity(summary, o.linearity, sqrt_s=p.sqrt_s)
    stamp([o.local_z, o.local_z_pdf, o.linearity, o.linearity_pdf],
          provenance(snakemake.config, where=snakemake.scriptdir))  # noqa: F821
