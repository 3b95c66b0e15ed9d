# bumpfold: wiring only. Stages live in workflow/rules/*.smk, physics in src/bumpfold.
from snakemake.utils import min_version

min_version("9.0")

# A --configfile replaces config/config.yaml instead of merging into it (so the test config
# does not inherit the default's signal models and windows); --config KEY=VALUE alone edits
# the default. Done here rather than with Snakemake's replace-workflow-config, which is not
# passed on to the jobs it submits to a cluster (each job would merge another config).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/skim.smk"
include: "workflow/rules/plots.smk"
include: "workflow/rules/search.smk"
include: "workflow/rules/bumphunt.smk"
include: "workflow/rules/unfold.smk"
include: "workflow/rules/summary.smk"


rule all:
    input:
        all_outputs(),
