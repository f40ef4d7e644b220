from skyhunt.catalogues.pipeline import run_catalogue_ensembles
from skyhunt.logs import run_step

run_step(snakemake, run_catalogue_ensembles)
