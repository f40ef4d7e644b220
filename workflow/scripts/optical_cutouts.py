from skyhunt.logs import run_step
from skyhunt.optical.pipeline import run_optical_cutouts

run_step(snakemake, run_optical_cutouts)
