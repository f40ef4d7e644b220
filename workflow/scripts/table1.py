from skyhunt.evaluation.pipeline import run_table1
from skyhunt.logs import log_to

log_to(snakemake.log[0])
run_table1(
    snakemake.params.evaluation,
    snakemake.params.seed,
    snakemake.input.scores,
    snakemake.input.thresholds,
    snakemake.output.csv,
    snakemake.output.md,
)
