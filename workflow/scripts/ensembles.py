from skyhunt.evaluation.pipeline import run_ensembles
from skyhunt.logs import run_step

run_step(snakemake, run_ensembles)
