from skyhunt.logs import run_step
from skyhunt.transfer.pipeline import run_transfer_metrics

run_step(snakemake, run_transfer_metrics)
