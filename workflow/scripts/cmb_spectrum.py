from skyhunt.logs import run_step
from skyhunt.sky.pipeline import run_cmb_spectrum

run_step(snakemake, run_cmb_spectrum)
