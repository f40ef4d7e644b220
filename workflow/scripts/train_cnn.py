import functools

import torch

from skyhunt.cnn.training import run_train_cnn
from skyhunt.logs import run_step

torch.set_num_threads(snakemake.threads)
# cnn.progress_bar only changes what the job log shows: it is read here, not as a rule param, so
# that flipping it reruns nothing.
run_step(snakemake, functools.partial(run_train_cnn, progress_bar=snakemake.config["cnn"]["progress_bar"]))
