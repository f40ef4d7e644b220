from skyhunt.evaluation.edge import run_edge_effect_table
from skyhunt.logs import run_step

run_step(snakemake, run_edge_effect_table)
