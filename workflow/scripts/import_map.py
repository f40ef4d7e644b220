from skyhunt.logs import log_to
from skyhunt.sky import survey

log_to(snakemake.log[0])
survey.run_import_map(
    snakemake.params.sky,
    snakemake.wildcards.component,
    snakemake.wildcards.band,
    snakemake.input[0],
    snakemake.params.unit,
    snakemake.params.field,
    snakemake.output[0],
)
