from skyhunt.deepcee.pipeline import run_deepcee_fields
from skyhunt.logs import run_step

run_step(snakemake, run_deepcee_fields)
