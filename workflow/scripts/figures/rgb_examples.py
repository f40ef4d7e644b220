from skyhunt.figures.examples import rgb_examples
from skyhunt.logs import log_to

log_to(snakemake.log[0])

rgb_examples(
    snakemake.input.scores,
    snakemake.input.index,
    snakemake.input.array,
    snakemake.params.stages,
    snakemake.params.stage,
    snakemake.params.bands,
    snakemake.params.cutouts,
    snakemake.output.png,
    snakemake.output.pdf,
)
