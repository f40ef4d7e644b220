from skyhunt.logs import run_step
from skyhunt.mf.pipeline import run_matched_filter

run_step(snakemake, run_matched_filter)
