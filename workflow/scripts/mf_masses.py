from skyhunt.logs import run_step
from skyhunt.masses.pipeline import run_mf_masses

run_step(snakemake, run_mf_masses)
