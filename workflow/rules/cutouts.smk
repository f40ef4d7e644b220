# The CNN dataset (DeepSZ section 1.2): staggered cutouts of every noise stage, labels, splits.


rule cutouts:
    input:
        maps=expand(f"{SKY}/observed/{{stage}}_{{band}}.fits", stage=STAGES, band=BANDS),
        halos=f"{SKY}/halos.parquet",
    output:
        index="results/cutouts/index.parquet",
        arrays=expand("results/cutouts/{stage}.npy", stage=STAGES),
    params:
        cfg={"sky": config["sky"], "cutouts": config["cutouts"]},
    log:
        "logs/cutouts/cutouts.log",
    benchmark:
        "benchmarks/output/cutouts/cutouts.tsv"
    threads: 2
    resources:
        mem_mb=3000,
        runtime=30,
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/cutouts.py"
