from skyhunt.logs import log_to

log_to(snakemake.log[0])

from skyhunt.figures.completeness import run_completeness_redshift  # noqa: E402

run_completeness_redshift(
    snakemake.input[0],
    snakemake.params.cutouts,
    snakemake.params.halos,
    snakemake.params.interval,
    snakemake.params.stages,
    snakemake.params.stage,
    snakemake.output.png,
    snakemake.output.pdf,
)
