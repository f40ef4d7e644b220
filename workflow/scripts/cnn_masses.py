import torch

from skyhunt.logs import run_step
from skyhunt.masses.cnn_pipeline import run_cnn_masses

torch.set_num_threads(snakemake.threads)
run_step(snakemake, run_cnn_masses)
