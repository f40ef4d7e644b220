from skyhunt.figures.deepcee import run_deepcee_prf1
from skyhunt.logs import run_step

run_step(snakemake, run_deepcee_prf1)
