from skyhunt.evaluation.pipeline import run_table1
from skyhunt.logs import run_step

run_step(snakemake, run_table1)
