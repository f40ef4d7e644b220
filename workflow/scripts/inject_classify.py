import torch

from skyhunt.logs import run_step
from skyhunt.selection.pipeline import run_inject_classify

torch.set_num_threads(snakemake.threads)
run_step(snakemake, run_inject_classify)
