# bumpfold: wiring only. Stages live in workflow/rules/*.smk, physics in src/bumpfold.
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
