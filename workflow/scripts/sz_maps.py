from skyhunt.logs import run_step
from skyhunt.sky.pipeline import run_sz_maps

run_step(snakemake, run_sz_maps)
