from skyhunt.figures.transfer import run_transfer_confusion
from skyhunt.logs import run_step

run_step(snakemake, run_transfer_confusion)
