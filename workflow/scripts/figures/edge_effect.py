from skyhunt.figures.edge import run_edge_effect_figure
from skyhunt.logs import log_to

log_to(snakemake.log[0])
run_edge_effect_figure(
    snakemake.params.cutouts,
    snakemake.params.edge,
    snakemake.params.stages,
    snakemake.params.stage,
    snakemake.input.recut,
    snakemake.input.remedy,
    snakemake.input.thresholds,
    snakemake.output.png,
    snakemake.output.pdf,
)
