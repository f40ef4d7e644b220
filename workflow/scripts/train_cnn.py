import torch

from skyhunt.cnn.training import train_ladder
from skyhunt.logs import log_to

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
train_ladder(
    snakemake.params.cnn,
    snakemake.params.seed,
    snakemake.input.array,
    snakemake.input.index,
    snakemake.params.workdir,
    snakemake.output.model,
    snakemake.output.history,
    snakemake.output.summary,
)
