from skyhunt.figures.comparison import run_compare_noise_ladder
from skyhunt.logs import run_step

run_step(snakemake, run_compare_noise_ladder)
