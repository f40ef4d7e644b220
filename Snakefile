# skyhunt: galaxy-cluster finding in millimetre sky maps (see README.md, ../shared/DESIGN.md).
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


# For `--software-deployment-method conda`: every job runs in this environment.
conda: "envs/skyhunt.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/sky.smk"
include: "workflow/rules/cutouts.smk"


rule all:
    input:
        rules.sky.input,
        rules.cutouts.output,
    default_target: True
