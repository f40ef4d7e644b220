import torch

from skyhunt.logs import run_step
from skyhunt.selection.pipeline import run_inject

torch.set_num_threads(1)  # the detector on one thread, as rule detect; the MF FFTs take `threads`
run_step(snakemake, run_inject)
