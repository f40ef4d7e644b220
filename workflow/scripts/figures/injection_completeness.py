from skyhunt.figures.selection import run_injection_completeness
from skyhunt.logs import run_step

run_step(snakemake, run_injection_completeness)
