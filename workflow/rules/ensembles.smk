# Thresholds, ensembles and Table 1 (DeepSZ section 3.2), and their figures (Figs. 5, 6, 8).
# EVAL_STAGE (common.smk) is the stage evaluated: evaluation.stage, or the last of cnn.stages.


rule ensembles:
    input:
        index="results/cutouts/index.parquet",
        cnn=f"results/cnn/{EVAL_STAGE}/scores.parquet",
        mf=f"results/mf/{EVAL_STAGE}/cutout_snr.parquet",
    output:
        scores="results/ensembles/scores.parquet",
        thresholds="results/ensembles/thresholds.json",
    params:
        evaluation=config["evaluation"],
        stage=EVAL_STAGE,
    log:
        "logs/ensembles/ensembles.log",
    resources:
        mem_mb=1000,
        runtime=10,
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/ensembles.py"


rule table1:
    input:
        scores="results/ensembles/scores.parquet",
        thresholds="results/ensembles/thresholds.json",
    output:
        csv=report(
            "results/tables/table1.csv",
            caption="../report/table1.rst",
            category="Thresholds and ensembles",
            labels={"table": "Table 1 (CSV)"},
        ),
        md=report(
            "results/tables/table1.md",
            caption="../report/table1.rst",
            category="Thresholds and ensembles",
            labels={"table": "Table 1 (Markdown)"},
        ),
    params:
        evaluation=config["evaluation"],
        seed=config["seed"],
    log:
        "logs/tables/table1.log",
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/table1.py"


rule f1_threshold:
    input:
        scores="results/ensembles/scores.parquet",
        thresholds="results/ensembles/thresholds.json",
    output:
        png=report(
            "results/figures/f1_threshold.png",
            caption="../report/f1_threshold.rst",
            category="Thresholds and ensembles",
            labels={"figure": "F1 against threshold (Fig. 5)"},
        ),
        pdf="results/figures/f1_threshold.pdf",
    log:
        "logs/figures/f1_threshold.log",
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/figures/f1_threshold.py"


rule ensemble_prod:
    input:
        scores="results/ensembles/scores.parquet",
        thresholds="results/ensembles/thresholds.json",
    output:
        png=report(
            "results/figures/ensemble_prod.png",
            caption="../report/ensemble_prod.rst",
            category="Thresholds and ensembles",
            labels={"figure": "EnsemblePROD (Fig. 6a)"},
        ),
        pdf="results/figures/ensemble_prod.pdf",
    log:
        "logs/figures/ensemble_prod.log",
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/figures/ensemble_prod.py"


rule ensemble_and:
    input:
        scores="results/ensembles/scores.parquet",
        thresholds="results/ensembles/thresholds.json",
    output:
        png=report(
            "results/figures/ensemble_and.png",
            caption="../report/ensemble_and.rst",
            category="Thresholds and ensembles",
            labels={"figure": "EnsembleAND (Fig. 6b)"},
        ),
        pdf="results/figures/ensemble_and.pdf",
    log:
        "logs/figures/ensemble_and.log",
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/figures/ensemble_and.py"


rule noise_components:
    input:
        index="results/cutouts/index.parquet",
        cnn=expand("results/cnn/{stage}/scores.parquet", stage=config["cnn"]["stages"]),
        mf=expand("results/mf/{stage}/cutout_snr.parquet", stage=config["cnn"]["stages"]),
    output:
        png=report(
            "results/figures/noise_components.png",
            caption="../report/noise_components.rst",
            category="CNN diagnostics",
            labels={"figure": "Noise components (Fig. 8)"},
        ),
        pdf="results/figures/noise_components.pdf",
        table=report(
            "results/tables/noise_components.csv",
            caption="../report/noise_components.rst",
            category="CNN diagnostics",
            labels={"table": "Metrics per noise stage"},
        ),
    params:
        stages=config["cnn"]["stages"],
        sky_stages=config["sky"]["stages"],
    log:
        "logs/figures/noise_components.log",
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/figures/noise_components.py"
