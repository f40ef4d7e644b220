from skyhunt.logs import log_to
from skyhunt.sky import pipeline

log_to(snakemake.log[0])
pipeline.run_source_maps(
    snakemake.params.sky, snakemake.input.sources, list(snakemake.output.ir), list(snakemake.output.radio)
)
