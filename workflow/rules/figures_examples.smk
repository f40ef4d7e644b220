# Data and training figures (DeepSZ Figs. 1, 4 and 7): example cutouts through the noise ladder,
# test positives as RGB images by CNN / MF outcome, and the CNN training history.


rule cutout_examples:
    input:
        arrays=expand(f"{RESULTS}/cutouts/{{stage}}.npy", stage=STAGES),
        index=f"{RESULTS}/cutouts/index.parquet",
        halos=f"{SKY}/halos.parquet",
    output:
        png=report(
            f"{RESULTS}/figures/cutout_examples.png",
            caption="../report/cutout_examples.rst",
            category="Data and training",
            labels={"figure": "Example cutouts (Fig. 1)"},
        ),
        pdf=f"{RESULTS}/figures/cutout_examples.pdf",
    log:
        logfile("figures/cutout_examples.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        stages=config["sky"]["stages"],
        bands=band_fields("name", "freq_ghz"),
        cutouts=pick(config["cutouts"], "size_arcmin", "central_arcmin"),
        seed=config["seed"],
    script:
        "../scripts/figures/cutout_examples.py"


rule rgb_examples:
    input:
        scores=f"{RESULTS}/ensembles/scores.parquet",
        index=f"{RESULTS}/cutouts/index.parquet",
        array=f"{RESULTS}/cutouts/{EVAL_STAGE}.npy",
    output:
        png=report(
            f"{RESULTS}/figures/rgb_examples.png",
            caption="../report/rgb_examples.rst",
            category="Data and training",
            labels={"figure": "RGB examples by outcome (Fig. 7)"},
        ),
        pdf=f"{RESULTS}/figures/rgb_examples.pdf",
    log:
        logfile("figures/rgb_examples.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        stages=config["sky"]["stages"],
        stage=EVAL_STAGE,
        bands=band_fields("name", "freq_ghz"),
        size_arcmin=config["cutouts"]["size_arcmin"],
    script:
        "../scripts/figures/rgb_examples.py"


rule training_history:
    input:
        history=f"{RESULTS}/cnn/{EVAL_STAGE}/history.csv",
        summary=f"{RESULTS}/cnn/{EVAL_STAGE}/training.json",
    output:
        png=report(
            f"{RESULTS}/figures/training_history.png",
            caption="../report/training_history.rst",
            category="Data and training",
            labels={"figure": "CNN training history (Fig. 4)"},
        ),
        pdf=f"{RESULTS}/figures/training_history.pdf",
    log:
        logfile("figures/training_history.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        stages=config["sky"]["stages"],
        stage=EVAL_STAGE,
    script:
        "../scripts/figures/training_history.py"
