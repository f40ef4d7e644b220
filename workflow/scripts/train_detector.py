import torch

from skyhunt.detector.training import run_train_detector
from skyhunt.logs import run_step

torch.set_num_threads(snakemake.threads)
run_step(snakemake, run_train_detector)
