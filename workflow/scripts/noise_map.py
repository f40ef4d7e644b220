from skyhunt.logs import run_step
from skyhunt.sky.pipeline import run_noise_map

run_step(snakemake, run_noise_map)
