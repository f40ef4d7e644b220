from skyhunt.logs import run_step
from skyhunt.vetting.pipeline import run_catalogue_vetted

run_step(snakemake, run_catalogue_vetted)
