from skyhunt.logs import run_step
from skyhunt.multiwave.pipeline import run_kosiba_table

run_step(snakemake, run_kosiba_table)
