from skyhunt.logs import run_step
from skyhunt.xray.pipeline import run_xray_cutouts

run_step(snakemake, run_xray_cutouts)
