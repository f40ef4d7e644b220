# Masses of the matched-filter candidates (issue 16; beyond DeepSZ): the fixed-scale y0 inverted
# through the sky's Arnaud Y-M relation at the matched halo's true redshift, and their metrics.


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
        masses=without(config["masses"], "metrics"),
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


rule mass_bias:
    input:
        table=rules.mf_masses.output.table,
        summary=rules.mf_mass_metrics.output.summary,
    output:
        png=report(
            f"{RESULTS}/figures/mass_bias.png",
            caption="../report/mass_bias.rst",
            category="Masses",
            labels={"figure": "MF mass bias against M500c and z"},
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
