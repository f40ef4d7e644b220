from skyhunt.evaluation.completeness import run_halo_detections
from skyhunt.logs import log_to

log_to(snakemake.log[0])
run_halo_detections(
    snakemake.params.cutouts,
    snakemake.params.halos,
    snakemake.params.stage,
    snakemake.input.halos,
    snakemake.input.index,
    snakemake.input.scores,
    snakemake.output[0],
)
