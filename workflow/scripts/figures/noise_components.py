from skyhunt.figures.noise import run_noise_components
from skyhunt.logs import run_step

run_step(snakemake, run_noise_components)
