from skyhunt.logs import log_to
from skyhunt.sky import pipeline

log_to(snakemake.log[0])
pipeline.run_sz_maps(
    snakemake.params.sky, snakemake.input.halos, list(snakemake.output.tsz), list(snakemake.output.ksz)
)
