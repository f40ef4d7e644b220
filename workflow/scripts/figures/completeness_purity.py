from skyhunt.figures.catalogues import run_completeness_purity
from skyhunt.logs import run_step

run_step(snakemake, run_completeness_purity)
