from skyhunt.logs import log_to
from skyhunt.mf.pipeline import run_match_mf

log_to(snakemake.log[0])
run_match_mf(
    snakemake.params.cfg,
    snakemake.input.candidates,
    snakemake.input.halos,
    snakemake.input.index,
    snakemake.output[0],
)
