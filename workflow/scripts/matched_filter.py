from skyhunt.mf.pipeline import run_matched_filter
from skyhunt.logs import run_step

run_step(snakemake, run_matched_filter)
