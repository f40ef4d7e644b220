from skyhunt.catalogues.pipeline import run_detector_edge
from skyhunt.logs import run_step

run_step(snakemake, run_detector_edge)
