from skyhunt.figures.examples import cutout_examples
from skyhunt.logs import log_to

log_to(snakemake.log[0])

cutout_examples(
    list(snakemake.input.arrays),
    snakemake.input.index,
    snakemake.input.halos,
    snakemake.params.stages,
    snakemake.params.bands,
    snakemake.params.cutouts,
    snakemake.params.seed,
    snakemake.output.png,
    snakemake.output.pdf,
)
