from skyhunt.logs import run_step
from skyhunt.selection.pipeline import run_mass_limit

run_step(snakemake, run_mass_limit)
