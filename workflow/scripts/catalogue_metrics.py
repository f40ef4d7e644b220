from skyhunt.catalogues.pipeline import run_catalogue_metrics
from skyhunt.logs import run_step

run_step(snakemake, run_catalogue_metrics)
