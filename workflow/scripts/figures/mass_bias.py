from skyhunt.figures.masses import run_mass_bias
from skyhunt.logs import run_step

run_step(snakemake, run_mass_bias)
