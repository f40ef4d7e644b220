from skyhunt.figures.examples import run_cutout_examples
from skyhunt.logs import run_step

run_step(snakemake, run_cutout_examples)
