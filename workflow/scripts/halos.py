from skyhunt.logs import log_to
from skyhunt.sky import pipeline

log_to(snakemake.log[0])
# cutouts.positive only sets the cut of a log line: taken from the config, not a rule param, so
# changing it does not rerun the halos
pipeline.run_halos(
    snakemake.params.sky, snakemake.params.seed, snakemake.output[0], snakemake.config["cutouts"]["positive"]
)
