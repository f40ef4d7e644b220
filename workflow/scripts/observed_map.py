from skyhunt.logs import log_to
from skyhunt.sky import pipeline

log_to(snakemake.log[0])
pipeline.run_observed_map(
    snakemake.params.sky,
    snakemake.wildcards.band,
    snakemake.wildcards.stage,
    list(snakemake.input),
    snakemake.output[0],
)
