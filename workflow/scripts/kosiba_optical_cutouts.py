from skyhunt.logs import run_step
from skyhunt.multiwave.pipeline import run_kosiba_optical_cutouts

run_step(snakemake, run_kosiba_optical_cutouts)
