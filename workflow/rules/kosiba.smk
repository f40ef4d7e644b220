# The Kosiba task and the ensemble across wavelengths (issue 18; `snakemake kosiba`, not in all):
# the evaluation stage's MF candidates with mm (vetting), X-ray and optical cutouts, a Kosiba-style
# CNN per channel set with and without augmentation over seeds, Kosiba's table and figure, and the
# learned catalogue ensemble with and without the X-ray and optical scores.
KOSIBA = f"{RESULTS}/kosiba"
KOSIBA_SETS = ["mm", "xray", "optical", "all"]
KOSIBA_AUGMENT = ["aug", "noaug"]


rule kosiba_optical_cutouts:
    input:
        candidates=f"{RESULTS}/catalogues/mf.parquet",
        galaxies=f"{SKY}/galaxies.parquet",
    output:
        cutouts=f"{KOSIBA}/optical_cutouts.fits",
    log:
        logfile("kosiba/kosiba_optical_cutouts.log"),
    benchmark:
        benchfile("kosiba/kosiba_optical_cutouts.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        optical=without(config["optical"], "galaxies", "max_candidates"),
        max_candidates=config["kosiba"]["max_candidates"],
        seed=config["seed"],
    script:
        "../scripts/kosiba_optical_cutouts.py"


rule kosiba_xray_cutouts:
    input:
        candidates=f"{RESULTS}/catalogues/mf.parquet",
        halos=f"{SKY}/halos.parquet",
        sources=f"{SKY}/sources.parquet",
    output:
        cutouts=f"{KOSIBA}/xray_cutouts.fits",
    log:
        logfile("kosiba/kosiba_xray_cutouts.log"),
    benchmark:
        benchfile("kosiba/kosiba_xray_cutouts.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        xray=without(config["xray"], "max_candidates"),
        max_candidates=config["kosiba"]["max_candidates"],
        cosmology=config["sky"]["cosmology"],
        bands=band_fields("name", "freq_ghz"),
        seed=config["seed"],
    script:
        "../scripts/kosiba_xray_cutouts.py"


rule kosiba_data:
    input:
        table=f"{RESULTS}/vetting/{EVAL_STAGE}/candidates.parquet",
        array=f"{RESULTS}/vetting/{EVAL_STAGE}/cutouts.npy",
        optical=rules.kosiba_optical_cutouts.output.cutouts,
        xray=rules.kosiba_xray_cutouts.output.cutouts,
    output:
        data=f"{KOSIBA}/candidates.parquet",
        cutouts=f"{KOSIBA}/cutouts.npy",
    log:
        logfile("kosiba/kosiba_data.log"),
    benchmark:
        benchfile("kosiba/kosiba_data.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=3000,
        runtime=10,
    params:
        npix=config["kosiba"]["npix"],
        bands=BANDS,
        stage=EVAL_STAGE,
    script:
        "../scripts/kosiba_data.py"


rule kosiba_train:
    input:
        data=rules.kosiba_data.output.data,
        cutouts=rules.kosiba_data.output.cutouts,
    output:
        scores=f"{KOSIBA}/{{channels}}_{{augment}}/scores.parquet",
        runs=f"{KOSIBA}/{{channels}}_{{augment}}/runs.csv",
    log:
        logfile("kosiba/kosiba_train_{channels}_{augment}.log"),
    benchmark:
        benchfile("kosiba/kosiba_train_{channels}_{augment}.tsv")
    wildcard_constraints:
        channels="|".join(KOSIBA_SETS),
        augment="|".join(KOSIBA_AUGMENT),
    conda:
        "../../envs/skyhunt.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
        gpu=1,
    params:
        kosiba_cnn=config["kosiba"]["cnn"],
        seeds=config["kosiba"]["seeds"],
        accelerator=config["cnn"]["accelerator"],
        seed=config["seed"],
        channels="{channels}",
        augment="{augment}",
        # not an output, so that a killed job resumes from it (while its fingerprint matches)
        workdir=f"{KOSIBA}/{{channels}}_{{augment}}/checkpoints",
    script:
        "../scripts/kosiba_train.py"


rule kosiba_table:
    input:
        runs=expand(
            f"{KOSIBA}/{{channels}}_{{augment}}/runs.csv",
            channels=KOSIBA_SETS,
            augment=KOSIBA_AUGMENT,
        ),
        data=rules.kosiba_data.output.data,
    output:
        csv=report(
            f"{KOSIBA}/table.csv",
            caption="../report/kosiba_table.rst",
            category="Kosiba task",
            labels={"table": "Kosiba's table (csv)"},
        ),
        md=report(
            f"{KOSIBA}/table.md",
            caption="../report/kosiba_table.rst",
            category="Kosiba task",
            labels={"table": "Kosiba's table"},
        ),
    log:
        logfile("kosiba/kosiba_table.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/kosiba_table.py"


rule kosiba_ensemble:
    input:
        mf=f"{RESULTS}/catalogues/mf.parquet",
        detector=f"{RESULTS}/catalogues/detector.parquet",
        halos=f"{SKY}/halos.parquet",
        data=rules.kosiba_data.output.data,
        xray_scores=f"{KOSIBA}/xray_aug/scores.parquet",
        optical_scores=f"{KOSIBA}/optical_aug/scores.parquet",
    output:
        summary=f"{KOSIBA}/ensemble.json",
        md=report(
            f"{KOSIBA}/ensemble.md",
            caption="../report/kosiba_ensemble.rst",
            category="Kosiba task",
            labels={"table": "ensemble across wavelengths"},
        ),
    log:
        logfile("kosiba/kosiba_ensemble.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        catalogues=config["catalogues"],
        positive=config["cutouts"]["positive"],
        footprint=config["sky"]["footprint"],
        splits=CUTOUTS["splits"],
        l2=config["evaluation"]["learned"]["l2"],
        seed=config["seed"],
        stage=EVAL_STAGE,
    script:
        "../scripts/kosiba_ensemble.py"


rule kosiba_figure:
    input:
        table=rules.kosiba_table.output.csv,
    output:
        png=report(
            f"{RESULTS}/figures/kosiba.png",
            caption="../report/kosiba_figure.rst",
            category="Kosiba task",
            labels={"figure": "accuracy and AUC per channel set"},
        ),
        pdf=f"{RESULTS}/figures/kosiba.pdf",
    log:
        logfile("figures/kosiba_figure.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/figures/kosiba_figure.py"


rule kosiba:
    input:
        rules.kosiba_table.output,
        rules.kosiba_ensemble.output,
        rules.kosiba_figure.output,
