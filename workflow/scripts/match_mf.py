from skyhunt.logs import run_step
from skyhunt.mf.pipeline import run_match_mf

run_step(snakemake, run_match_mf)
