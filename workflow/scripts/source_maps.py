from skyhunt.logs import run_step
from skyhunt.sky.pipeline import run_source_maps

run_step(snakemake, run_source_maps)
