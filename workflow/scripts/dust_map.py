from skyhunt.logs import run_step
from skyhunt.sky.pipeline import run_dust_map

run_step(snakemake, run_dust_map)
