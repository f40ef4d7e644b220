from skyhunt.logs import log_to
from skyhunt.sky import pipeline

log_to(snakemake.log[0])
pipeline.run_cmb_spectrum(snakemake.params.sky, snakemake.output[0])
