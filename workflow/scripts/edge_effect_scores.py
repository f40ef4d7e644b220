import torch

from skyhunt.evaluation.edge_scores import run_edge_effect_scores
from skyhunt.logs import run_step

torch.set_num_threads(snakemake.threads)
run_step(snakemake, run_edge_effect_scores)
