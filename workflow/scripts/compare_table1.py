from skyhunt.evaluation.comparison import run_compare_table1
from skyhunt.logs import run_step

run_step(snakemake, run_compare_table1)
