from skyhunt.logs import log_to
from skyhunt.sky import pipeline

log_to(snakemake.log[0])
pipeline.run_halos(snakemake.params.sky, snakemake.params.seed, snakemake.output[0])
