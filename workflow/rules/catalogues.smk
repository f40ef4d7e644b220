# Cluster catalogues of the MF and the CNN detector on the evaluation stage, their catalogue-level
# ensembles and metrics, the detector's cutout scores (its Table 1 row) and its edge-effect curve
# (issue 15). The detector's files come from detector.smk (the interface of docs/design.md).
CATALOGUES = f"{RESULTS}/catalogues"
DETECTOR_EVAL = f"{RESULTS}/detector/{EVAL_STAGE}"
CATALOGUE_METHODS = [
    "mf",
    "detector",
    "ens_prod",
    "ens_learned",
    "vetted_cnn",
    "vetted_classical",
]


rule catalogue_mf:
    input:
        candidates=f"{RESULTS}/mf/{EVAL_STAGE}/candidates.parquet",
        masses=f"{RESULTS}/masses/mf_{EVAL_STAGE}.parquet",
    output:
        fits=f"{CATALOGUES}/mf.fits",
        parquet=f"{CATALOGUES}/mf.parquet",
    log:
        logfile("catalogues/catalogue_mf.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        footprint=config["sky"]["footprint"],
        splits=CUTOUTS["splits"],
        stage=EVAL_STAGE,
    script:
        "../scripts/catalogue_mf.py"


rule catalogue_detector:
    input:
        detections=f"{DETECTOR_EVAL}/detections.parquet",
        halos=f"{SKY}/halos.parquet",
        cnn_masses=f"{RESULTS}/masses/cnn_{EVAL_STAGE}.parquet",
    output:
        fits=f"{CATALOGUES}/detector.fits",
        parquet=f"{CATALOGUES}/detector.parquet",
    log:
        logfile("catalogues/catalogue_detector.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        stage=EVAL_STAGE,
        match_radius_arcmin=config["catalogues"]["match_radius_arcmin"],
    script:
        "../scripts/catalogue_detector.py"


rule catalogue_ensembles:
    input:
        mf=f"{CATALOGUES}/mf.parquet",
        detector=f"{CATALOGUES}/detector.parquet",
        halos=f"{SKY}/halos.parquet",
    output:
        prod_fits=f"{CATALOGUES}/ens_prod.fits",
        prod_parquet=f"{CATALOGUES}/ens_prod.parquet",
        learned_fits=f"{CATALOGUES}/ens_learned.fits",
        learned_parquet=f"{CATALOGUES}/ens_learned.parquet",
    log:
        logfile("catalogues/catalogue_ensembles.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        match_radius_arcmin=config["catalogues"]["match_radius_arcmin"],
        positive=config["cutouts"]["positive"],
        l2=config["evaluation"]["learned"]["l2"],
        stage=EVAL_STAGE,
    script:
        "../scripts/catalogue_ensembles.py"


rule detector_cutout_scores:
    input:
        catalogue=f"{CATALOGUES}/detector.parquet",
        halos=f"{SKY}/halos.parquet",
        index=f"{RESULTS}/cutouts/index.parquet",
    output:
        cutout_scores=f"{DETECTOR_EVAL}/cutout_scores.parquet",
    log:
        logfile("catalogues/detector_cutout_scores.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        cutouts=pick(config["cutouts"], "size_arcmin", "npix", "stride_arcmin"),
        matching=config["mf"]["matching"],
    script:
        "../scripts/detector_cutout_scores.py"


rule catalogue_metrics:
    input:
        mf=f"{CATALOGUES}/mf.parquet",
        detector=f"{CATALOGUES}/detector.parquet",
        ens_prod=f"{CATALOGUES}/ens_prod.parquet",
        ens_learned=f"{CATALOGUES}/ens_learned.parquet",
        vetted_cnn=f"{CATALOGUES}/vetted_cnn.parquet",
        vetted_classical=f"{CATALOGUES}/vetted_classical.parquet",
        halos=f"{SKY}/halos.parquet",
        objects=f"{RESULTS}/detector/objects.parquet",
        detections=f"{DETECTOR_EVAL}/detections.parquet",
    output:
        metrics=f"{CATALOGUES}/metrics.json",
        curves=f"{CATALOGUES}/completeness_purity.parquet",
        md=report(
            f"{RESULTS}/tables/catalogues.md",
            caption="../report/catalogues_table.rst",
            category="Catalogues",
            labels={"table": "clusters at 90 % / 80 % purity, detector AP"},
        ),
    log:
        logfile("catalogues/catalogue_metrics.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        catalogues=without(config["catalogues"], "edge_bin_arcmin"),
        positive=config["cutouts"]["positive"],
        footprint=config["sky"]["footprint"],
        splits=CUTOUTS["splits"],
        seed=config["seed"],
        stage=EVAL_STAGE,
    script:
        "../scripts/catalogue_metrics.py"


rule detector_edge:
    input:
        catalogue=f"{CATALOGUES}/detector.parquet",
        metrics=f"{CATALOGUES}/metrics.json",
        halos=f"{SKY}/halos.parquet",
        index=f"{RESULTS}/cutouts/index.parquet",
        cnn=f"{RESULTS}/cnn/{EVAL_STAGE}/scores.parquet",
        thresholds=f"{RESULTS}/ensembles/thresholds.json",
    output:
        edge=f"{CATALOGUES}/detector_edge.parquet",
    log:
        logfile("catalogues/detector_edge.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        cutouts=pick(
            config["cutouts"], "size_arcmin", "npix", "stride_arcmin", "positive"
        ),
        interval=config["catalogues"]["interval"],
        edge_bin_arcmin=config["catalogues"]["edge_bin_arcmin"],
        stage=EVAL_STAGE,
    script:
        "../scripts/detector_edge.py"


rule completeness_purity:
    input:
        metrics=f"{CATALOGUES}/metrics.json",
        curves=f"{CATALOGUES}/completeness_purity.parquet",
        table1=f"{RESULTS}/tables/table1.csv",
    output:
        png=report(
            f"{RESULTS}/figures/completeness_purity.png",
            caption="../report/completeness_purity.rst",
            category="Catalogues",
            labels={"figure": "completeness against purity"},
        ),
        pdf=f"{RESULTS}/figures/completeness_purity.pdf",
    log:
        logfile("figures/completeness_purity.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        stages=config["sky"]["stages"],
        stage=EVAL_STAGE,
    script:
        "../scripts/figures/completeness_purity.py"


rule catalogue_map:
    input:
        metrics=f"{CATALOGUES}/metrics.json",
        mf=f"{CATALOGUES}/mf.parquet",
        detector=f"{CATALOGUES}/detector.parquet",
        ens_prod=f"{CATALOGUES}/ens_prod.parquet",
        ens_learned=f"{CATALOGUES}/ens_learned.parquet",
        halos=f"{SKY}/halos.parquet",
    output:
        png=report(
            f"{RESULTS}/figures/catalogue_map.png",
            caption="../report/catalogue_map.rst",
            category="Catalogues",
            labels={"figure": "catalogues over the map"},
        ),
        pdf=f"{RESULTS}/figures/catalogue_map.pdf",
    log:
        logfile("figures/catalogue_map.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        footprint=config["sky"]["footprint"],
        splits=CUTOUTS["splits"],
        positive=config["cutouts"]["positive"],
        stages=config["sky"]["stages"],
        stage=EVAL_STAGE,
    script:
        "../scripts/figures/catalogue_map.py"


rule catalogues:
    input:
        expand(
            f"{CATALOGUES}/{{method}}.{{ext}}",
            method=CATALOGUE_METHODS,
            ext=["fits", "parquet"],
        ),
        rules.catalogue_metrics.output,
        rules.detector_edge.output,
        rules.completeness_purity.output,
        rules.catalogue_map.output,
