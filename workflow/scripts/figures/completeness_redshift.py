from skyhunt.figures.completeness import run_completeness_redshift
from skyhunt.logs import run_step

run_step(snakemake, run_completeness_redshift)
