# Injection-based selection function (issue 16; beyond DeepSZ): model clusters painted into
# copies of the evaluation stage's maps, three jobs per batch; the MF, the CNN detector, the
# catalogue ensembles, the CNN classifier and Table 1's ensembles run on them as in the main run;
# completeness in (M500c, z) of each against the sky's own halos; the mass-limit map.
SELECTION = f"{RESULTS}/selection"


wildcard_constraints:
    batch=r"\d+",
    design="main|study",


# Per batch, inject_mf paints the injections and runs the MF early (it needs no model);
# inject_detect runs the detector and the catalogue ensembles on the same maps once they are
# trained, inject_classify the cutout classifiers; the scratch (temp) maps and candidates go when
# both have run.
SCRATCH = f"{SELECTION}/injections/scratch_{{batch}}"


rule inject_mf:
    input:
        unpack(matched_filter_transfer),
        maps=expand(f"{SKY}/observed/{EVAL_STAGE}_{{band}}.fits", band=BANDS),
        spectrum=f"{SKY}/cmb_spectrum.ecsv",
        sources=mf_sources,
        ivar=mf_ivar_inputs,
        halos=f"{SKY}/halos.parquet",
    output:
        injected=temp(
            expand(
                f"{SCRATCH}/{EVAL_STAGE}_{{band}}.fits", band=BANDS, allow_missing=True
            )
        ),
        candidates=temp(f"{SCRATCH}/candidates.parquet"),
        injections=temp(f"{SCRATCH}/injections.parquet"),
    log:
        logfile("selection/inject_mf_{batch}.log"),
    benchmark:
        benchfile("selection/inject_mf_{batch}.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    # one core: only the FFTs are threaded, and they are a small part of the job
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
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
        mf=without(config["mf"], "matching"),
        components=stage_components(config["sky"]["stages"], EVAL_STAGE),
        scan_filter=SCAN_FILTER,
        stage=EVAL_STAGE,
        cosmology=config["sky"]["cosmology"],
        halo_model=pick(
            config["sky"]["halos"],
            "truncation_r500",
            "y_scatter_ln",
            "v_los_sigma_km_s",
            "relativistic_tsz",
        ),
        selection=pick(
            config["selection"],
            "injections",
            "grid",
            "edge_arcmin",
            "separation_arcmin",
            "avoid",
        ),
        match_radius_arcmin=config["catalogues"]["match_radius_arcmin"],
        seed=config["seed"],
    script:
        "../scripts/inject_mf.py"


rule inject_detect:
    input:
        injected=expand(
            f"{SCRATCH}/{EVAL_STAGE}_{{band}}.fits", band=BANDS, allow_missing=True
        ),
        candidates=f"{SCRATCH}/candidates.parquet",
        mf_injections=f"{SCRATCH}/injections.parquet",
        model=f"{RESULTS}/detector/{EVAL_STAGE}/model.ckpt",
        ensemble=f"{RESULTS}/catalogues/ens_learned.parquet",
    output:
        injections=f"{SELECTION}/injections/batch_{{batch}}.parquet",
    log:
        logfile("selection/inject_detect_{batch}.log"),
    benchmark:
        benchfile("selection/inject_detect_{batch}.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=20,
        gpu=1,
    params:
        nside=config["sky"]["nside"],
        footprint=config["sky"]["footprint"],
        tiles=config["mf"]["tiles"],
        splits=CUTOUTS["splits"],
        peaks=config["detector"]["peaks"],
        accelerator=config["detector"]["accelerator"],
        match_radius_arcmin=config["catalogues"]["match_radius_arcmin"],
    script:
        "../scripts/inject_detect.py"


# inject_classify scores the injections with the cutout classifiers of Table 1 (the CNN and the
# ensembles) on the same maps: it waits for the CNN ladder, the detector's job does not
rule inject_classify:
    input:
        injected=expand(
            f"{SCRATCH}/{EVAL_STAGE}_{{band}}.fits", band=BANDS, allow_missing=True
        ),
        candidates=f"{SCRATCH}/candidates.parquet",
        mf_injections=f"{SCRATCH}/injections.parquet",
        halos=f"{SKY}/halos.parquet",
        index=f"{RESULTS}/cutouts/index.parquet",
        model=f"{RESULTS}/cnn/{EVAL_STAGE}/model.ckpt",
        cnn_scores=f"{RESULTS}/cnn/{EVAL_STAGE}/scores.parquet",
        ensemble_scores=f"{RESULTS}/ensembles/scores.parquet",
        thresholds=f"{RESULTS}/ensembles/thresholds.json",
    output:
        classified=f"{SELECTION}/injections/cutouts_{{batch}}.parquet",
    log:
        logfile("selection/inject_classify_{batch}.log"),
    benchmark:
        benchfile("selection/inject_classify_{batch}.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
        gpu=1,
    params:
        nside=config["sky"]["nside"],
        cutouts=pick(
            CUTOUTS,
            "size_arcmin",
            "npix",
            "stride_arcmin",
            "central_arcmin",
            "interpolation",
        ),
        accelerator=config["cnn"]["accelerator"],
        batch_size=config["cnn"]["training"]["batch_size"],
        matching=config["mf"]["matching"],
    script:
        "../scripts/inject_classify.py"


rule selection_completeness:
    input:
        injections=selection_tables("batch"),
        classified=selection_tables("cutouts"),
        thresholds=f"{RESULTS}/ensembles/thresholds.json",
        index=f"{RESULTS}/cutouts/index.parquet",
        ensemble_scores=f"{RESULTS}/ensembles/scores.parquet",
        halos=f"{SKY}/halos.parquet",
        candidates=f"{RESULTS}/mf/{EVAL_STAGE}/candidates.parquet",
        detector=f"{RESULTS}/catalogues/detector.parquet",
        ens_prod=f"{RESULTS}/catalogues/ens_prod.parquet",
        ens_learned=f"{RESULTS}/catalogues/ens_learned.parquet",
        metrics=f"{RESULTS}/catalogues/metrics.json",
    output:
        completeness=f"{SELECTION}/{{design}}/completeness.fits",
        summary=f"{SELECTION}/{{design}}/summary.json",
    log:
        logfile("selection/selection_completeness_{design}.log"),
    benchmark:
        benchfile("selection/selection_completeness_{design}.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        footprint=config["sky"]["footprint"],
        selection=pick(
            config["selection"],
            "grid",
            "edge_arcmin",
            "min_per_bin",
            "mass_sub_bins",
            "mf_snr_threshold",
        ),
        cutouts=pick(CUTOUTS, "size_arcmin", "npix", "stride_arcmin", "central_arcmin"),
        match_radius_arcmin=config["catalogues"]["match_radius_arcmin"],
        interval=config["catalogues"]["interval"],
    script:
        "../scripts/selection_completeness.py"


rule mass_limit:
    input:
        completeness=f"{SELECTION}/{{design}}/completeness.fits",
        injections=selection_tables("batch"),
        candidates=f"{RESULTS}/mf/{EVAL_STAGE}/candidates.parquet",
    output:
        mass_limit=f"{SELECTION}/{{design}}/mass_limit.fits",
        mass_limit_map=f"{SELECTION}/{{design}}/mass_limit_map.fits",
    log:
        logfile("selection/mass_limit_{design}.log"),
    benchmark:
        benchfile("selection/mass_limit_{design}.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        footprint=config["sky"]["footprint"],
        tiles=config["mf"]["tiles"],
        mass_limit_cfg=config["selection"]["mass_limit"],
    script:
        "../scripts/mass_limit.py"


rule injection_completeness:
    input:
        completeness=f"{SELECTION}/main/completeness.fits",
        summary=f"{SELECTION}/main/summary.json",
    output:
        png=report(
            f"{RESULTS}/figures/injection_completeness.png",
            caption="../report/injection_completeness.rst",
            category="Selection function",
            labels={
                "figure": "completeness of each method from injections and from the sky's halos"
            },
        ),
        pdf=f"{RESULTS}/figures/injection_completeness.pdf",
    log:
        logfile("figures/injection_completeness.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/figures/injection_completeness.py"


rule mass_limit_map:
    input:
        mass_limit=f"{SELECTION}/main/mass_limit.fits",
        mass_limit_map=f"{SELECTION}/main/mass_limit_map.fits",
    output:
        png=report(
            f"{RESULTS}/figures/mass_limit_map.png",
            caption="../report/mass_limit_map.rst",
            category="Selection function",
            labels={"figure": "mass limits over the footprint"},
        ),
        pdf=f"{RESULTS}/figures/mass_limit_map.pdf",
    log:
        logfile("figures/mass_limit_map.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        footprint=config["sky"]["footprint"],
    script:
        "../scripts/figures/mass_limit_map.py"


# The named target: the comparison with truth on selection.study_batches batches.
rule selection_study:
    input:
        f"{SELECTION}/study/completeness.fits",
        f"{SELECTION}/study/summary.json",
        f"{SELECTION}/study/mass_limit.fits",
        f"{SELECTION}/study/mass_limit_map.fits",
