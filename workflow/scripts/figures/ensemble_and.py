from skyhunt.figures.thresholds import run_ensemble_and
from skyhunt.logs import run_step

run_step(snakemake, run_ensemble_and)
