from skyhunt.detector.pipeline import run_detector_objects
from skyhunt.logs import run_step

run_step(snakemake, run_detector_objects)
