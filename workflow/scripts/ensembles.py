from skyhunt.evaluation.pipeline import run_ensembles
from skyhunt.logs import log_to

log_to(snakemake.log[0])
run_ensembles(
    snakemake.params.evaluation,
    snakemake.params.stage,
    snakemake.input.index,
    snakemake.input.cnn,
    snakemake.input.mf,
    snakemake.output.scores,
    snakemake.output.thresholds,
)
