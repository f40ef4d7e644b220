from skyhunt.logs import run_step
from skyhunt.sky.pipeline import run_halos

run_step(snakemake, run_halos)
