from skyhunt.figures.thresholds import run_f1_threshold
from skyhunt.logs import run_step

run_step(snakemake, run_f1_threshold)
