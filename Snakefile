# skyhunt: galaxy-cluster finding in millimetre sky maps (see README.md, docs/design.md).
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


if SKY_SOURCE == "simulate":

    include: "workflow/rules/simulate.smk"

else:

    include: "workflow/rules/imported.smk"


include: "workflow/rules/sky.smk"
include: "workflow/rules/cutouts.smk"
include: "workflow/rules/cnn.smk"
include: "workflow/rules/mf.smk"
include: "workflow/rules/figures_examples.smk"
include: "workflow/rules/ensembles.smk"
include: "workflow/rules/completeness.smk"
include: "workflow/rules/edge_effect.smk"
include: "workflow/rules/catalogues.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/kfold.smk"
include: "workflow/rules/detector.smk"
include: "workflow/rules/masses.smk"
include: "workflow/rules/selection.smk"
include: "workflow/rules/vetting.smk"
include: "workflow/rules/multiwave.smk"
include: "workflow/rules/transfer.smk"
include: "workflow/rules/kosiba.smk"
include: "workflow/rules/deepcee.smk"


rule all:
    default_target: True
    input:
        rules.sky.input,
        rules.cutouts.output,
        expand(f"{RESULTS}/cnn/{{stage}}/scores.parquet", stage=config["cnn"]["stages"]),
        rules.mf.input,
        rules.cutout_examples.output,
        rules.training_history.output,
        rules.rgb_examples.output,
        rules.table1.output,
        rules.f1_threshold.output,
        rules.ensemble_prod.output,
        rules.ensemble_and.output,
        rules.noise_components.output,
        rules.completeness_mass.output,
        rules.completeness_redshift.output,
        rules.selection_function.output,
        rules.edge_effect_table.output,
        rules.edge_effect.output,
        rules.catalogues.input,
        rules.train_detector.output,
        rules.detect.output,
        rules.mf_mass_metrics.output,
        rules.cnn_mass_metrics.output,
        rules.mass_bias.output,
        f"{RESULTS}/selection/main/summary.json",
        rules.injection_completeness.output,
        rules.mass_limit_map.output,
        expand(rules.vet_candidates.output, stage=EVAL_STAGE),
        rules.multiwave.input,
