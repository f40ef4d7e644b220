from skyhunt.download import ManifestEntry, fetch
from skyhunt.logs import log_to

log_to(snakemake.log[0])
fetch(
    snakemake.params.url,
    snakemake.output[0],
    ManifestEntry(**snakemake.params.entry),
    retries=snakemake.params.retries,
    backoff_s=snakemake.params.backoff_s,
    timeout_s=snakemake.params.timeout_s,
)
