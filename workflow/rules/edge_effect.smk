# The CNN's edge effect (DeepSZ section 3.4.2, Fig. 9c) and the quarter-overlap remedy, on the
# evaluation stage: validation and test clusters re-cut at chosen offsets, the test stripe cut on
# the dense grid, both scored by the stage's CNN; then the remedy table and the figure, which also
# shows the classifier's and the CNN detector's completeness against the distance from the nearest
# cutout centre (rule detector_edge, catalogues.smk).


rule edge_effect_scores:
    input:
        maps=expand(f"{SKY}/observed/{EVAL_STAGE}_{{band}}.fits", band=BANDS),
        halos=f"{SKY}/halos.parquet",
        index=f"{RESULTS}/cutouts/index.parquet",
        model=f"{RESULTS}/cnn/{EVAL_STAGE}/model.ckpt",
        scores=f"{RESULTS}/cnn/{EVAL_STAGE}/scores.parquet",
    output:
        recut=f"{RESULTS}/edge_effect/recut_scores.parquet",
        dense=f"{RESULTS}/edge_effect/dense_scores.parquet",
    log:
        logfile("edge_effect/scores.log"),
    benchmark:
        benchfile("edge_effect/scores.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
        gpu=1,
    params:
        cutouts=CUTOUTS,
        edge=config["evaluation"]["edge_effect"],
        nside=config["sky"]["nside"],
        footprint=config["sky"]["footprint"],
        accelerator=config["cnn"]["accelerator"],
        batch_size=config["cnn"]["training"]["batch_size"],
        seed=config["seed"],
    script:
        "../scripts/edge_effect_scores.py"


rule edge_effect_table:
    input:
        dense=rules.edge_effect_scores.output.dense,
        index=f"{RESULTS}/cutouts/index.parquet",
        halos=f"{SKY}/halos.parquet",
        scores=f"{RESULTS}/cnn/{EVAL_STAGE}/scores.parquet",
        thresholds=f"{RESULTS}/ensembles/thresholds.json",
    output:
        csv=report(
            f"{RESULTS}/tables/edge_effect.csv",
            caption="../report/edge_effect_table.rst",
            category="CNN diagnostics",
            labels={"table": "edge-effect remedy (CSV)"},
        ),
        md=report(
            f"{RESULTS}/tables/edge_effect.md",
            caption="../report/edge_effect_table.rst",
            category="CNN diagnostics",
            labels={"table": "edge-effect remedy (Markdown)"},
        ),
    log:
        logfile("tables/edge_effect.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        cutouts=pick(
            config["cutouts"],
            "size_arcmin",
            "stride_arcmin",
            "central_arcmin",
            "positive",
        ),
        dense_stride_arcmin=config["evaluation"]["edge_effect"]["dense_stride_arcmin"],
        stage=EVAL_STAGE,
    script:
        "../scripts/edge_effect_table.py"


rule edge_effect:
    input:
        recut=rules.edge_effect_scores.output.recut,
        remedy=rules.edge_effect_table.output.csv,
        thresholds=f"{RESULTS}/ensembles/thresholds.json",
        detector_edge=f"{RESULTS}/catalogues/detector_edge.parquet",
    output:
        png=report(
            f"{RESULTS}/figures/edge_effect.png",
            caption="../report/edge_effect.rst",
            category="CNN diagnostics",
            labels={"figure": "edge effect"},
        ),
        pdf=f"{RESULTS}/figures/edge_effect.pdf",
    log:
        logfile("figures/edge_effect.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        cutouts=pick(config["cutouts"], "size_arcmin", "central_arcmin"),
        edge=pick(config["evaluation"]["edge_effect"], "max_offset_arcmin", "angles"),
        stages=config["sky"]["stages"],
        stage=EVAL_STAGE,
    script:
        "../scripts/figures/edge_effect.py"
