from skyhunt.logs import run_step
from skyhunt.sky.pipeline import run_observed_map

run_step(snakemake, run_observed_map)
