from skyhunt.logs import log_to
from skyhunt.mf.pipeline import run_matched_filter

log_to(snakemake.log[0])
run_matched_filter(
    snakemake.params.cfg,
    snakemake.wildcards.stage,
    list(snakemake.input.maps),
    snakemake.input.spectrum,
    snakemake.input.sources,
    snakemake.output[0],
    snakemake.threads,
)
