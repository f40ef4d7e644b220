# Data and training figures (DeepSZ Figs. 1, 4 and 7): example cutouts through the noise ladder,
# test positives as RGB images by CNN / MF outcome, and the CNN training history.


rule cutout_examples:
    input:
        arrays=expand("results/cutouts/{stage}.npy", stage=STAGES),
        index="results/cutouts/index.parquet",
        halos=f"{SKY}/halos.parquet",
    output:
        png=report(
            "results/figures/cutout_examples.png",
            caption="../report/cutout_examples.rst",
            category="Data and training",
            labels={"figure": "Example cutouts (Fig. 1)"},
        ),
        pdf="results/figures/cutout_examples.pdf",
    params:
        stages=config["sky"]["stages"],
        bands=config["sky"]["bands"],
        cutouts=config["cutouts"],
        seed=config["seed"],
    log:
        "logs/figures/cutout_examples.log",
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/figures/cutout_examples.py"


rule rgb_examples:
    input:
        scores="results/ensembles/scores.parquet",
        index="results/cutouts/index.parquet",
        array=f"results/cutouts/{EVAL_STAGE}.npy",
    output:
        png=report(
            "results/figures/rgb_examples.png",
            caption="../report/rgb_examples.rst",
            category="Data and training",
            labels={"figure": "RGB examples by outcome (Fig. 7)"},
        ),
        pdf="results/figures/rgb_examples.pdf",
    params:
        stages=config["sky"]["stages"],
        stage=EVAL_STAGE,
        bands=config["sky"]["bands"],
        cutouts=config["cutouts"],
    log:
        "logs/figures/rgb_examples.log",
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/figures/rgb_examples.py"


rule training_history:
    input:
        history=f"results/cnn/{EVAL_STAGE}/history.csv",
        summary=f"results/cnn/{EVAL_STAGE}/training.json",
    output:
        png=report(
            "results/figures/training_history.png",
            caption="../report/training_history.rst",
            category="Data and training",
            labels={"figure": "CNN training history (Fig. 4)"},
        ),
        pdf="results/figures/training_history.pdf",
    params:
        stages=config["sky"]["stages"],
        stage=EVAL_STAGE,
    log:
        "logs/figures/training_history.log",
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/figures/training_history.py"
