from skyhunt.figures.training import run_training_history
from skyhunt.logs import run_step

run_step(snakemake, run_training_history)
