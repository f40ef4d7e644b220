from skyhunt.logs import run_step
from skyhunt.selection.pipeline import run_selection_completeness

run_step(snakemake, run_selection_completeness)
