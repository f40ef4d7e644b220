import torch

from skyhunt.logs import run_step
from skyhunt.transfer.pipeline import run_transfer_zero_shot

torch.set_num_threads(snakemake.threads)
run_step(snakemake, run_transfer_zero_shot)
