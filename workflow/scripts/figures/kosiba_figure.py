from skyhunt.figures.multiwave import run_kosiba_figure
from skyhunt.logs import run_step

run_step(snakemake, run_kosiba_figure)
