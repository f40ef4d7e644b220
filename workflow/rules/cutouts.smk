# The CNN dataset (DeepSZ section 1.2): staggered cutouts of every noise stage, labels, splits.

# Config cutouts for the jobs that read it whole: the K-fold keys (cutouts.splits.folds, fold)
# only in K-fold runs, so that a default run's params and cutout index stay as they were.
CUTOUTS = (
    config["cutouts"]
    if config["cutouts"]["splits"]["folds"] > 1
    else {
        **config["cutouts"],
        "splits": without(config["cutouts"]["splits"], "folds", "fold"),
    }
)


rule cutouts:
    input:
        maps=expand(f"{SKY}/observed/{{stage}}_{{band}}.fits", stage=STAGES, band=BANDS),
        halos=f"{SKY}/halos.parquet",
    output:
        index=f"{RESULTS}/cutouts/index.parquet",
        arrays=expand(f"{RESULTS}/cutouts/{{stage}}.npy", stage=STAGES),
    log:
        logfile("cutouts/cutouts.log"),
    benchmark:
        benchfile("cutouts/cutouts.tsv")
    # first the maps and cutouts that the CNN ladder (the longest chain) waits for
    priority: 1
    conda:
        "../../envs/skyhunt.yaml"
    # one thread on a workstation: a 2-thread job waits for two free cores while 1-thread jobs
    # keep taking the one that frees (3 min of the CNN chain's time in the default run); the
    # cluster profile sets 8 (set-threads), --set-threads cutouts=N sets it anywhere
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        footprint=config["sky"]["footprint"],
        nside=config["sky"]["nside"],
        bands=BANDS,
        stages=STAGES,
        cutouts=CUTOUTS,
    script:
        "../scripts/cutouts.py"
