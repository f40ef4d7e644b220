from skyhunt.figures.training import training_history
from skyhunt.logs import log_to

log_to(snakemake.log[0])

training_history(
    snakemake.input.history,
    snakemake.input.summary,
    snakemake.params.stages,
    snakemake.params.stage,
    snakemake.output.png,
    snakemake.output.pdf,
)
