from skyhunt.logs import log_to
from skyhunt.sky import pipeline

log_to(snakemake.log[0])
pipeline.run_cmb_map(
    snakemake.params.sky,
    snakemake.params.seed,
    snakemake.input.spectrum,
    list(snakemake.output),
    snakemake.threads,
)
