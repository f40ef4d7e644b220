from skyhunt.figures.selection import run_mass_limit_map
from skyhunt.logs import run_step

run_step(snakemake, run_mass_limit_map)
