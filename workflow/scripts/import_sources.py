from skyhunt.logs import run_step
from skyhunt.sky.imported import run_import_sources

run_step(snakemake, run_import_sources)
