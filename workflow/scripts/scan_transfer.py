from skyhunt.logs import run_step
from skyhunt.mf.pipeline import run_scan_transfer

run_step(snakemake, run_scan_transfer)
