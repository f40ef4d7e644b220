from skyhunt.figures.catalogues import run_catalogue_map
from skyhunt.logs import run_step

run_step(snakemake, run_catalogue_map)
