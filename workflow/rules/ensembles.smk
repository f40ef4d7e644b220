# Thresholds, ensembles and Table 1 (DeepSZ section 3.2), and their figures (Figs. 5, 6, 8).
# EVAL_STAGE (common.smk) is the stage evaluated: evaluation.stage, or the last of cnn.stages.


rule ensembles:
    input:
        index=f"{RESULTS}/cutouts/index.parquet",
        cnn=f"{RESULTS}/cnn/{EVAL_STAGE}/scores.parquet",
        mf=f"{RESULTS}/mf/{EVAL_STAGE}/cutout_snr.parquet",
        detector=f"{RESULTS}/detector/{EVAL_STAGE}/cutout_scores.parquet",
    output:
        scores=f"{RESULTS}/ensembles/scores.parquet",
        thresholds=f"{RESULTS}/ensembles/thresholds.json",
    log:
        logfile("ensembles/ensembles.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        l2=config["evaluation"]["learned"]["l2"],
        stage=EVAL_STAGE,
    script:
        "../scripts/ensembles.py"


rule table1:
    input:
        scores=f"{RESULTS}/ensembles/scores.parquet",
        thresholds=f"{RESULTS}/ensembles/thresholds.json",
    output:
        csv=report(
            f"{RESULTS}/tables/table1.csv",
            caption="../report/table1.rst",
            category="Thresholds and ensembles",
            labels={"table": "Table 1 (CSV)"},
        ),
        md=report(
            f"{RESULTS}/tables/table1.md",
            caption="../report/table1.rst",
            category="Thresholds and ensembles",
            labels={"table": "Table 1 (Markdown)"},
        ),
    log:
        logfile("tables/table1.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        bootstrap=config["evaluation"]["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/table1.py"


rule f1_threshold:
    input:
        scores=f"{RESULTS}/ensembles/scores.parquet",
        thresholds=f"{RESULTS}/ensembles/thresholds.json",
    output:
        png=report(
            f"{RESULTS}/figures/f1_threshold.png",
            caption="../report/f1_threshold.rst",
            category="Thresholds and ensembles",
            labels={"figure": "F1 against threshold (Fig. 5)"},
        ),
        pdf=f"{RESULTS}/figures/f1_threshold.pdf",
    log:
        logfile("figures/f1_threshold.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/figures/f1_threshold.py"


rule ensemble_prod:
    input:
        scores=f"{RESULTS}/ensembles/scores.parquet",
        thresholds=f"{RESULTS}/ensembles/thresholds.json",
    output:
        png=report(
            f"{RESULTS}/figures/ensemble_prod.png",
            caption="../report/ensemble_prod.rst",
            category="Thresholds and ensembles",
            labels={"figure": "EnsemblePROD (Fig. 6a)"},
        ),
        pdf=f"{RESULTS}/figures/ensemble_prod.pdf",
    log:
        logfile("figures/ensemble_prod.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/figures/ensemble_prod.py"


rule ensemble_and:
    input:
        scores=f"{RESULTS}/ensembles/scores.parquet",
        thresholds=f"{RESULTS}/ensembles/thresholds.json",
    output:
        png=report(
            f"{RESULTS}/figures/ensemble_and.png",
            caption="../report/ensemble_and.rst",
            category="Thresholds and ensembles",
            labels={"figure": "EnsembleAND (Fig. 6b)"},
        ),
        pdf=f"{RESULTS}/figures/ensemble_and.pdf",
    log:
        logfile("figures/ensemble_and.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/figures/ensemble_and.py"


rule noise_components:
    input:
        index=f"{RESULTS}/cutouts/index.parquet",
        cnn=expand(
            f"{RESULTS}/cnn/{{stage}}/scores.parquet", stage=config["cnn"]["stages"]
        ),
        mf=expand(
            f"{RESULTS}/mf/{{stage}}/cutout_snr.parquet", stage=config["cnn"]["stages"]
        ),
    output:
        png=report(
            f"{RESULTS}/figures/noise_components.png",
            caption="../report/noise_components.rst",
            category="CNN diagnostics",
            labels={"figure": "Noise components (Fig. 8)"},
        ),
        pdf=f"{RESULTS}/figures/noise_components.pdf",
        table=report(
            f"{RESULTS}/tables/noise_components.csv",
            caption="../report/noise_components.rst",
            category="CNN diagnostics",
            labels={"table": "Metrics per noise stage"},
        ),
    log:
        logfile("figures/noise_components.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        stages=config["cnn"]["stages"],
        sky_stages=config["sky"]["stages"],
    script:
        "../scripts/figures/noise_components.py"
