from skyhunt.evaluation.kfold import run_kfold_table1
from skyhunt.logs import run_step

run_step(snakemake, run_kfold_table1)
