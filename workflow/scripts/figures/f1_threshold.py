from skyhunt.evaluation.pipeline import read_ensembles
from skyhunt.figures.thresholds import plot_f1_threshold
from skyhunt.logs import log_to

log_to(snakemake.log[0])
plot_f1_threshold(
    *read_ensembles(snakemake.input.scores, snakemake.input.thresholds),
    snakemake.output.png,
    snakemake.output.pdf,
)
