# The CNN detector (issue 15): truth objects of four classes, a CenterNet-style heat-map network
# trained on the training RA stripe of the evaluation stage's maps, and its catalogue over the
# footprint on the matched filter's tiles.


rule detector_objects:
    input:
        halos=f"{SKY}/halos.parquet",
        sources=f"{SKY}/sources.parquet",
    output:
        objects=f"{RESULTS}/detector/objects.parquet",
    log:
        logfile("detector/objects.log"),
    benchmark:
        benchfile("detector/objects.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        detector=pick(
            config["detector"],
            "classes_radius_arcmin",
            "radio_band",
            "radio_flux_min_mjy",
            "dusty_band",
            "dusty_flux_min_mjy",
        ),
        bands=band_fields("name", "freq_ghz"),
        positive=config["cutouts"]["positive"],
        splits=config["cutouts"]["splits"],
        footprint=config["sky"]["footprint"],
    script:
        "../scripts/detector_objects.py"


rule train_detector:
    input:
        maps=expand(f"{SKY}/observed/{EVAL_STAGE}_{{band}}.fits", band=BANDS),
        objects=f"{RESULTS}/detector/objects.parquet",
    output:
        model=f"{RESULTS}/detector/{EVAL_STAGE}/model.ckpt",
        history=f"{RESULTS}/detector/{EVAL_STAGE}/history.csv",
        summary=f"{RESULTS}/detector/{EVAL_STAGE}/training.json",
    log:
        logfile(f"detector/train_{EVAL_STAGE}.log"),
    benchmark:
        benchfile(f"detector/train_{EVAL_STAGE}.tsv")
    # the longest jobs first, once their inputs exist
    priority: 1
    conda:
        "../../envs/skyhunt.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=1,
    params:
        detector=without(config["detector"], "peaks", "match_arcmin"),
        seed=config["seed"],
        footprint=config["sky"]["footprint"],
        nside=config["sky"]["nside"],
        splits=config["cutouts"]["splits"],
        pixel_arcmin=config["mf"]["tiles"]["pixel_arcmin"],
        # Training state; not an output, so that a killed job resumes from it (only while its
        # fingerprint.json matches the config and inputs).
        workdir=f"{RESULTS}/detector/{EVAL_STAGE}/checkpoints",
    script:
        "../scripts/train_detector.py"


rule detect:
    input:
        maps=expand(f"{SKY}/observed/{EVAL_STAGE}_{{band}}.fits", band=BANDS),
        model=f"{RESULTS}/detector/{EVAL_STAGE}/model.ckpt",
        objects=f"{RESULTS}/detector/objects.parquet",
    output:
        detections=f"{RESULTS}/detector/{EVAL_STAGE}/detections.parquet",
    log:
        logfile(f"detector/detect_{EVAL_STAGE}.log"),
    benchmark:
        benchfile(f"detector/detect_{EVAL_STAGE}.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
        gpu=1,
    params:
        accelerator=config["detector"]["accelerator"],
        peaks=config["detector"]["peaks"],
        match_arcmin=config["detector"]["match_arcmin"],
        footprint=config["sky"]["footprint"],
        nside=config["sky"]["nside"],
        splits=config["cutouts"]["splits"],
        tiles=config["mf"]["tiles"],
    script:
        "../scripts/detect.py"
