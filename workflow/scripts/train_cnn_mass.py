import torch

from skyhunt.logs import run_step
from skyhunt.masses.cnn_training import run_train_cnn_mass

torch.set_num_threads(snakemake.threads)
run_step(snakemake, run_train_cnn_mass)
