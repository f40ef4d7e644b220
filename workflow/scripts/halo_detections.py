from skyhunt.evaluation.completeness import run_halo_detections
from skyhunt.logs import run_step

run_step(snakemake, run_halo_detections)
