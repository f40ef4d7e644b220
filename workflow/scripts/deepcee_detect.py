import torch

from skyhunt.deepcee.cnn_pipeline import run_deepcee_detect
from skyhunt.logs import run_step

torch.set_num_threads(snakemake.threads)
run_step(snakemake, run_deepcee_detect)
