# Completeness against halo mass and redshift and the selection function of each method on the
# test split (DeepSZ section 3.5, Figs. 10-12), from the ensembles' cutout predictions.


rule halo_detections:
    input:
        halos=f"{SKY}/halos.parquet",
        index=f"{RESULTS}/cutouts/index.parquet",
        scores=f"{RESULTS}/ensembles/scores.parquet",
    output:
        detections=f"{RESULTS}/ensembles/halo_detections.parquet",
    log:
        logfile("ensembles/halo_detections.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        cutouts=pick(
            config["cutouts"],
            "size_arcmin",
            "npix",
            "stride_arcmin",
            "central_arcmin",
            "positive",
        ),
        m_vir_min=config["evaluation"]["halos"]["m_vir_min"],
        stage=EVAL_STAGE,
    script:
        "../scripts/halo_detections.py"


rule completeness_mass:
    input:
        detections=f"{RESULTS}/ensembles/halo_detections.parquet",
    output:
        png=report(
            f"{RESULTS}/figures/completeness_mass.png",
            caption="../report/completeness_mass.rst",
            category="Completeness",
            labels={"figure": "Completeness vs mass (Fig. 10)"},
        ),
        pdf=f"{RESULTS}/figures/completeness_mass.pdf",
    log:
        logfile("figures/completeness_mass.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        positive=config["cutouts"]["positive"],
        halo_bins=pick(config["evaluation"]["halos"], "m_vir_min", "mass_bin_dex"),
        interval=config["evaluation"]["bootstrap"]["interval"],
        stages=config["sky"]["stages"],
        stage=EVAL_STAGE,
    script:
        "../scripts/figures/completeness_mass.py"


rule completeness_redshift:
    input:
        detections=f"{RESULTS}/ensembles/halo_detections.parquet",
    output:
        png=report(
            f"{RESULTS}/figures/completeness_redshift.png",
            caption="../report/completeness_redshift.rst",
            category="Completeness",
            labels={"figure": "Completeness vs redshift (Fig. 11)"},
        ),
        pdf=f"{RESULTS}/figures/completeness_redshift.pdf",
    log:
        logfile("figures/completeness_redshift.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        positive=config["cutouts"]["positive"],
        redshift_bin=config["evaluation"]["halos"]["redshift_bin"],
        interval=config["evaluation"]["bootstrap"]["interval"],
        stages=config["sky"]["stages"],
        stage=EVAL_STAGE,
    script:
        "../scripts/figures/completeness_redshift.py"


rule selection_function:
    input:
        detections=f"{RESULTS}/ensembles/halo_detections.parquet",
    output:
        png=report(
            f"{RESULTS}/figures/selection_function.png",
            caption="../report/selection_function.rst",
            category="Completeness",
            labels={"figure": "Selection function (Fig. 12)"},
        ),
        pdf=f"{RESULTS}/figures/selection_function.pdf",
    log:
        logfile("figures/selection_function.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        positive=config["cutouts"]["positive"],
        halo_bins=config["evaluation"]["halos"],
        stages=config["sky"]["stages"],
        stage=EVAL_STAGE,
    script:
        "../scripts/figures/selection_function.py"
