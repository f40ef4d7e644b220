from skyhunt.figures.deepcee import run_deepcee_offsets
from skyhunt.logs import run_step

run_step(snakemake, run_deepcee_offsets)
