from skyhunt.figures.noise import run_noise_components
from skyhunt.logs import log_to

log_to(snakemake.log[0])
run_noise_components(
    snakemake.params.stages,
    snakemake.params.sky_stages,
    snakemake.input.index,
    snakemake.input.cnn,
    snakemake.input.mf,
    snakemake.output.png,
    snakemake.output.pdf,
    snakemake.output.table,
)
