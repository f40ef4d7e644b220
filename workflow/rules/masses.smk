# Masses (issue 16; beyond DeepSZ): of the matched-filter candidates, the fixed-scale y0 inverted
# through the sky's Arnaud Y-M relation at the matched halo's true redshift; of the positive
# cutouts, a small CNN's ln M500c (given the halo's true redshift); their metrics and figure.


rule mf_masses:
    input:
        unpack(matched_filter_transfer),
        candidates=f"{RESULTS}/mf/{EVAL_STAGE}/candidates.parquet",
        halos=f"{SKY}/halos.parquet",
        spectrum=f"{SKY}/cmb_spectrum.ecsv",
        sources=mf_sources,
    output:
        table=f"{RESULTS}/masses/mf_{EVAL_STAGE}.parquet",
    log:
        logfile(f"masses/mf_masses_{EVAL_STAGE}.log"),
    benchmark:
        benchfile(f"masses/mf_masses_{EVAL_STAGE}.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=3000,
        runtime=20,
    params:
        nside=config["sky"]["nside"],
        footprint=config["sky"]["footprint"],
        bands=config["sky"]["bands"],
        point_sources=config["sky"]["point_sources"],
        red_noise=pick(
            config["sky"]["noise"],
            "red_correlation",
            "red_correlation_groups",
            "red_ell_min",
            "red_cut_fraction",
        ),
        mf=without(
            config["mf"],
            "template",
            "core_radii_arcmin",
            "noise",
            "noise_ell_bin",
            "detection",
        ),
        components=stage_components(config["sky"]["stages"], EVAL_STAGE),
        cosmology=config["sky"]["cosmology"],
        halo_model=pick(
            config["sky"]["halos"], "y_scatter_ln", "truncation_r500", "mass_function"
        ),
        masses=without(config["masses"], "metrics", "cnn"),
        scan_filter=SCAN_FILTER,
        stage=EVAL_STAGE,
    script:
        "../scripts/mf_masses.py"


rule mf_mass_metrics:
    input:
        table=rules.mf_masses.output.table,
    output:
        summary=f"{RESULTS}/masses/mf_{EVAL_STAGE}_metrics.json",
    log:
        logfile(f"masses/mf_mass_metrics_{EVAL_STAGE}.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        footprint=config["sky"]["footprint"],
        splits=config["cutouts"]["splits"],
        metrics=config["masses"]["metrics"],
        bootstrap=config["evaluation"]["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/mf_mass_metrics.py"


rule train_cnn_mass:
    input:
        array=f"{RESULTS}/cutouts/{EVAL_STAGE}.npy",
        index=f"{RESULTS}/cutouts/index.parquet",
        halos=f"{SKY}/halos.parquet",
    output:
        model=f"{RESULTS}/masses/cnn_{EVAL_STAGE}/model.ckpt",
        history=f"{RESULTS}/masses/cnn_{EVAL_STAGE}/history.csv",
        summary=f"{RESULTS}/masses/cnn_{EVAL_STAGE}/training.json",
    log:
        logfile(f"masses/train_cnn_mass_{EVAL_STAGE}.log"),
    benchmark:
        benchfile(f"masses/train_cnn_mass_{EVAL_STAGE}.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=20,
        gpu=1,
    params:
        cnn_mass=config["masses"]["cnn"],
        accelerator=config["cnn"]["accelerator"],
        seed=config["seed"],
        # not an output, so that a killed job resumes from it (while its fingerprint matches)
        workdir=f"{RESULTS}/masses/cnn_{EVAL_STAGE}/checkpoints",
    script:
        "../scripts/train_cnn_mass.py"


rule cnn_masses:
    input:
        model=rules.train_cnn_mass.output.model,
        array=f"{RESULTS}/cutouts/{EVAL_STAGE}.npy",
        index=f"{RESULTS}/cutouts/index.parquet",
        halos=f"{SKY}/halos.parquet",
    output:
        table=f"{RESULTS}/masses/cnn_{EVAL_STAGE}.parquet",
    log:
        logfile(f"masses/cnn_masses_{EVAL_STAGE}.log"),
    benchmark:
        benchfile(f"masses/cnn_masses_{EVAL_STAGE}.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
        gpu=1,
    params:
        accelerator=config["cnn"]["accelerator"],
        batch_size=config["masses"]["cnn"]["batch_size"],
        stage=EVAL_STAGE,
    script:
        "../scripts/cnn_masses.py"


rule cnn_mass_metrics:
    input:
        table=rules.cnn_masses.output.table,
    output:
        summary=f"{RESULTS}/masses/cnn_{EVAL_STAGE}_metrics.json",
    log:
        logfile(f"masses/cnn_mass_metrics_{EVAL_STAGE}.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        metrics=pick(config["masses"]["metrics"], "m500c_bins", "z_bins"),
        bootstrap=config["evaluation"]["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/cnn_mass_metrics.py"


rule mass_bias:
    input:
        table=rules.mf_masses.output.table,
        summary=rules.mf_mass_metrics.output.summary,
        cnn_table=rules.cnn_masses.output.table,
        cnn_summary=rules.cnn_mass_metrics.output.summary,
    output:
        png=report(
            f"{RESULTS}/figures/mass_bias.png",
            caption="../report/mass_bias.rst",
            category="Masses",
            labels={"figure": "MF and CNN mass bias against M500c and z"},
        ),
        pdf=f"{RESULTS}/figures/mass_bias.pdf",
    log:
        logfile("figures/mass_bias.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        footprint=config["sky"]["footprint"],
        splits=config["cutouts"]["splits"],
        snr_min=config["masses"]["metrics"]["snr_min"],
    script:
        "../scripts/figures/mass_bias.py"
