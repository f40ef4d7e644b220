from skyhunt.logs import run_step
from skyhunt.sky.depth import run_depth_map

run_step(snakemake, run_depth_map)
