from skyhunt.figures.edge import run_edge_effect
from skyhunt.logs import run_step

run_step(snakemake, run_edge_effect)
