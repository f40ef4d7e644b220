from skyhunt.logs import log_to
from skyhunt.sky import survey

log_to(snakemake.log[0])
survey.run_import_halos(snakemake.params.sky, snakemake.input[0], snakemake.params.kind, snakemake.output[0])
