# The Deep-CEE task (issue 18; Chan & Stott 2019): the CNN detector on g, r, i fields rendered
# with the optical code around massive halos and at random positions. Named target `deepcee`.
DEEPCEE = f"{RESULTS}/deepcee"


rule deepcee_fields:
    input:
        halos=f"{SKY}/halos.parquet",
        galaxies=f"{SKY}/galaxies.parquet",
    output:
        images=f"{DEEPCEE}/fields_{{split}}.npy",
        index=f"{DEEPCEE}/fields_{{split}}.parquet",
        truth=f"{DEEPCEE}/truth_{{split}}.parquet",
    log:
        logfile("deepcee/fields_{split}.log"),
    benchmark:
        benchfile("deepcee/fields_{split}.tsv")
    wildcard_constraints:
        split="train|validation|test",
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        fields=config["deepcee"]["fields"],
        clusters=config["deepcee"]["clusters"],
        optical=without(config["optical"], "galaxies"),
        footprint=config["sky"]["footprint"],
        splits=config["cutouts"]["splits"],
        seed=config["seed"],
    script:
        "../scripts/deepcee_fields.py"


rule train_deepcee:
    input:
        train_images=f"{DEEPCEE}/fields_train.npy",
        train_index=f"{DEEPCEE}/fields_train.parquet",
        train_truth=f"{DEEPCEE}/truth_train.parquet",
        validation_images=f"{DEEPCEE}/fields_validation.npy",
        validation_index=f"{DEEPCEE}/fields_validation.parquet",
        validation_truth=f"{DEEPCEE}/truth_validation.parquet",
    output:
        model=f"{DEEPCEE}/model.ckpt",
        history=f"{DEEPCEE}/history.csv",
        summary=f"{DEEPCEE}/training.json",
    log:
        logfile("deepcee/train.log"),
    benchmark:
        benchfile("deepcee/train.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=1,
    params:
        detector=without(config["deepcee"]["detector"], "peaks"),
        seed=config["seed"],
        # Training state; not an output, so that a killed job resumes from it.
        workdir=f"{DEEPCEE}/checkpoints",
    script:
        "../scripts/train_deepcee.py"


rule deepcee_detect:
    input:
        model=f"{DEEPCEE}/model.ckpt",
        images=f"{DEEPCEE}/fields_test.npy",
        index=f"{DEEPCEE}/fields_test.parquet",
        truth=f"{DEEPCEE}/truth_test.parquet",
    output:
        detections=f"{DEEPCEE}/detections.parquet",
    log:
        logfile("deepcee/detect.log"),
    benchmark:
        benchfile("deepcee/detect.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=10,
        gpu=1,
    params:
        detector=pick(config["deepcee"]["detector"], "accelerator", "peaks"),
    script:
        "../scripts/deepcee_detect.py"


rule deepcee_metrics:
    input:
        detections=f"{DEEPCEE}/detections.parquet",
        truth=f"{DEEPCEE}/truth_test.parquet",
    output:
        table_csv=report(
            f"{RESULTS}/tables/deepcee.csv",
            caption="../report/deepcee_metrics.rst",
            category="Deep-CEE",
            labels={"table": "Deep-CEE precision, recall, F1 (CSV)"},
        ),
        table_md=report(
            f"{RESULTS}/tables/deepcee.md",
            caption="../report/deepcee_metrics.rst",
            category="Deep-CEE",
            labels={"table": "Deep-CEE precision, recall, F1"},
        ),
        offsets=f"{DEEPCEE}/offsets.parquet",
        summary=f"{DEEPCEE}/summary.json",
    log:
        logfile("deepcee/metrics.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        cosmology=config["sky"]["cosmology"],
        match_kpc=config["deepcee"]["match_kpc"],
    script:
        "../scripts/deepcee_metrics.py"


rule deepcee_prf1:
    input:
        table=rules.deepcee_metrics.output.table_csv,
        summary=rules.deepcee_metrics.output.summary,
    output:
        png=report(
            f"{RESULTS}/figures/deepcee_prf1.png",
            caption="../report/deepcee_prf1.rst",
            category="Deep-CEE",
            labels={
                "figure": "Deep-CEE precision, recall and F1 against the confidence threshold"
            },
        ),
        pdf=f"{RESULTS}/figures/deepcee_prf1.pdf",
    log:
        logfile("figures/deepcee_prf1.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/figures/deepcee_prf1.py"


rule deepcee_offsets:
    input:
        offsets=rules.deepcee_metrics.output.offsets,
        summary=rules.deepcee_metrics.output.summary,
    output:
        png=report(
            f"{RESULTS}/figures/deepcee_offsets.png",
            caption="../report/deepcee_offsets.rst",
            category="Deep-CEE",
            labels={"figure": "Deep-CEE offsets from the true centre"},
        ),
        pdf=f"{RESULTS}/figures/deepcee_offsets.pdf",
    log:
        logfile("figures/deepcee_offsets.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        match_kpc=config["deepcee"]["match_kpc"],
    script:
        "../scripts/figures/deepcee_offsets.py"


rule deepcee:
    input:
        rules.deepcee_metrics.output,
        rules.deepcee_prf1.output,
        rules.deepcee_offsets.output,
