from skyhunt.evaluation.pipeline import read_ensembles
from skyhunt.figures.thresholds import plot_ensemble_prod
from skyhunt.logs import log_to

log_to(snakemake.log[0])
plot_ensemble_prod(
    *read_ensembles(snakemake.input.scores, snakemake.input.thresholds),
    snakemake.output.png,
    snakemake.output.pdf,
)
