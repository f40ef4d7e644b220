import torch

from skyhunt.evaluation.edge_scores import run_edge_scores
from skyhunt.logs import log_to

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
run_edge_scores(
    snakemake.params.cutouts,
    snakemake.params.edge,
    snakemake.params.nside,
    snakemake.params.footprint,
    snakemake.params.cnn,
    snakemake.params.seed,
    list(snakemake.input.maps),
    snakemake.input.halos,
    snakemake.input.index,
    snakemake.input.model,
    snakemake.input.scores,
    snakemake.output.recut,
    snakemake.output.dense,
)
