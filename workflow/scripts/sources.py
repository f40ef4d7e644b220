from skyhunt.logs import run_step
from skyhunt.sky.pipeline import run_sources

run_step(snakemake, run_sources)
