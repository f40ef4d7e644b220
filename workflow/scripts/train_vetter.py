import torch

from skyhunt.logs import run_step
from skyhunt.vetting.training import run_train_vetter

torch.set_num_threads(snakemake.threads)
run_step(snakemake, run_train_vetter)
