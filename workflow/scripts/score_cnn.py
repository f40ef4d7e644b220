import torch

from skyhunt.cnn.pipeline import run_score_cnn
from skyhunt.logs import log_to

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
run_score_cnn(
    snakemake.params.cnn,
    snakemake.input.model,
    snakemake.input.array,
    snakemake.input.index,
    snakemake.output.scores,
)
