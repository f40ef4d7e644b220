from skyhunt.cutouts.pipeline import run_cutouts
from skyhunt.logs import run_step

run_step(snakemake, run_cutouts)
