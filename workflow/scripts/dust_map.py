from skyhunt.logs import log_to
from skyhunt.sky import pipeline

log_to(snakemake.log[0])
pipeline.run_dust_map(snakemake.params.sky, snakemake.params.seed, list(snakemake.output), snakemake.threads)
