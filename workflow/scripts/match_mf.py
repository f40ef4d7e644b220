from skyhunt.mf.pipeline import run_match_mf
from skyhunt.logs import run_step

run_step(snakemake, run_match_mf)
