from skyhunt.evaluation.edge import run_edge_effect_table
from skyhunt.logs import log_to

log_to(snakemake.log[0])
run_edge_effect_table(
    snakemake.params.cutouts,
    snakemake.params.edge,
    snakemake.params.stage,
    snakemake.input.dense,
    snakemake.input.index,
    snakemake.input.halos,
    snakemake.input.scores,
    snakemake.input.thresholds,
    snakemake.output.csv,
    snakemake.output.md,
)
