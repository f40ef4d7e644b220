import torch

from skyhunt.detector.pipeline import run_detect
from skyhunt.logs import run_step

torch.set_num_threads(snakemake.threads)
run_step(snakemake, run_detect)
