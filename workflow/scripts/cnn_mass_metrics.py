from skyhunt.logs import run_step
from skyhunt.masses.pipeline import run_cnn_mass_metrics

run_step(snakemake, run_cnn_mass_metrics)
