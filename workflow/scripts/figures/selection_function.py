from skyhunt.figures.completeness import run_selection_function
from skyhunt.logs import run_step

run_step(snakemake, run_selection_function)
