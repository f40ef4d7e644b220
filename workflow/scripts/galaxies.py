from skyhunt.logs import run_step
from skyhunt.optical.pipeline import run_galaxies

run_step(snakemake, run_galaxies)
