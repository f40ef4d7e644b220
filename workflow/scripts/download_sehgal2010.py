from skyhunt.download import run_download_sehgal2010
from skyhunt.logs import run_step

run_step(snakemake, run_download_sehgal2010)
