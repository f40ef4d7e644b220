from skyhunt.deepcee.pipeline import run_deepcee_metrics
from skyhunt.logs import run_step

run_step(snakemake, run_deepcee_metrics)
