from skyhunt.logs import log_to
from skyhunt.sky import survey

log_to(snakemake.log[0])
catalogues = [
    (path, columns, population)
    for path, (columns, population) in zip(snakemake.input, snakemake.params.specs, strict=True)
]
survey.run_import_sources(snakemake.params.sky, catalogues, snakemake.output[0])
