from skyhunt.cutouts.pipeline import run_cutouts
from skyhunt.logs import log_to

log_to(snakemake.log[0])
cfg = snakemake.params.cfg
bands = [b["name"] for b in cfg["sky"]["bands"]]
stages = [s["name"] for s in cfg["sky"]["stages"]]
maps = iter(snakemake.input.maps)  # expand() order: stage-major, then band
map_paths = {(s, b): next(maps) for s in stages for b in bands}
run_cutouts(
    cfg,
    map_paths,
    snakemake.input.halos,
    snakemake.output.index,
    dict(zip(stages, snakemake.output.arrays, strict=True)),
    snakemake.threads,
)
