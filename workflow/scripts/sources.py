from skyhunt.logs import log_to
from skyhunt.sky import pipeline

log_to(snakemake.log[0])
pipeline.run_sources(snakemake.params.sky, snakemake.params.seed, snakemake.input.halos, snakemake.output[0])
