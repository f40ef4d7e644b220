import torch

from skyhunt.cnn.pipeline import run_score_cnn
from skyhunt.logs import run_step

torch.set_num_threads(snakemake.threads)
run_step(snakemake, run_score_cnn)
