from skyhunt.logs import run_step
from skyhunt.selection.pipeline import run_inject_mf

run_step(snakemake, run_inject_mf)
