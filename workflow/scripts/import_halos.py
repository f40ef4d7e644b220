from skyhunt.logs import log_to
from skyhunt.sky import survey

log_to(snakemake.log[0])
# cutouts.positive only sets the cut of a log line: taken from the config, not a rule param, so
# changing it does not rerun the import
survey.run_import_halos(
    snakemake.params.sky,
    snakemake.input[0],
    snakemake.params.kind,
    snakemake.output[0],
    snakemake.config["cutouts"]["positive"],
)
