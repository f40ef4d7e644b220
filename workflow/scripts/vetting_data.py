from skyhunt.logs import run_step
from skyhunt.vetting.pipeline import run_vetting_data

run_step(snakemake, run_vetting_data)
