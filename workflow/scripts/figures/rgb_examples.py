from skyhunt.figures.examples import run_rgb_examples
from skyhunt.logs import run_step

run_step(snakemake, run_rgb_examples)
