import torch

from skyhunt.logs import run_step
from skyhunt.multiwave.training import run_kosiba_train

torch.set_num_threads(snakemake.threads)
run_step(snakemake, run_kosiba_train)
