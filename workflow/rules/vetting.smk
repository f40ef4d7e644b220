# Vetting of the matched filter's candidates (issue 17; beyond DeepSZ): cutouts centred on every
# candidate of a noise stage, truth labels with reasons and the MF's own features; a CNN vetter
# (DeepShadows) and a gradient-boosting vetter trained on the training stripe; the vetted MF
# catalogues of the evaluation stage (results/catalogues/vetted_*.{fits,parquet}).
VETTING = f"{RESULTS}/vetting"


rule vetting_data:
    input:
        candidates=f"{RESULTS}/mf/{{stage}}/candidates.parquet",
        removed_sources=f"{RESULTS}/mf/{{stage}}/point_sources.parquet",
        maps=expand(f"{SKY}/observed/{{{{stage}}}}_{{band}}.fits", band=BANDS),
        halos=f"{SKY}/halos.parquet",
        sources=f"{SKY}/sources.parquet",
    output:
        table=f"{VETTING}/{{stage}}/candidates.parquet",
        array=f"{VETTING}/{{stage}}/cutouts.npy",
    log:
        logfile("vetting/vetting_data_{stage}.log"),
    benchmark:
        benchfile("vetting/vetting_data_{stage}.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    # one thread on a workstation: a 2-thread job waits for two free cores while 1-thread jobs
    # keep taking the one that frees (3 min of the CNN chain's time in the default run); the
    # cluster profile sets 8 (set-threads), --set-threads vetting_data=N sets it anywhere
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
    params:
        footprint=config["sky"]["footprint"],
        nside=config["sky"]["nside"],
        cutouts=pick(
            config["cutouts"],
            "size_arcmin",
            "npix",
            "interpolation",
            "edge_margin_arcmin",
        ),
        labels=config["vetting"]["labels"],
        positive=config["cutouts"]["positive"],
        splits=CUTOUTS["splits"],
    script:
        "../scripts/vetting_data.py"


rule train_vetter:
    input:
        table=rules.vetting_data.output.table,
        array=rules.vetting_data.output.array,
    output:
        model=f"{VETTING}/{{stage}}/cnn/model.ckpt",
        history=f"{VETTING}/{{stage}}/cnn/history.csv",
        summary=f"{VETTING}/{{stage}}/cnn/training.json",
    log:
        logfile("vetting/train_vetter_{stage}.log"),
    benchmark:
        benchfile("vetting/train_vetter_{stage}.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=20,
        gpu=1,
    params:
        vetting_cnn=config["vetting"]["cnn"],
        accelerator=config["cnn"]["accelerator"],
        seed=config["seed"],
        # not an output, so that a killed job resumes from it (while its fingerprint matches)
        workdir=f"{VETTING}/{{stage}}/cnn/checkpoints",
    script:
        "../scripts/train_vetter.py"


rule vet_candidates:
    input:
        table=rules.vetting_data.output.table,
        array=rules.vetting_data.output.array,
        model=rules.train_vetter.output.model,
    output:
        scores=f"{VETTING}/{{stage}}/scores.parquet",
        summary=f"{VETTING}/{{stage}}/summary.json",
    log:
        logfile("vetting/vet_candidates_{stage}.log"),
    benchmark:
        benchfile("vetting/vet_candidates_{stage}.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
        gpu=1,
    params:
        classical=config["vetting"]["classical"],
        accelerator=config["cnn"]["accelerator"],
        batch_size=config["vetting"]["cnn"]["batch_size"],
        seed=config["seed"],
    script:
        "../scripts/vet_candidates.py"


rule catalogue_vetted:
    input:
        candidates=f"{RESULTS}/mf/{EVAL_STAGE}/candidates.parquet",
        scores=f"{VETTING}/{EVAL_STAGE}/scores.parquet",
        masses=f"{RESULTS}/masses/mf_{EVAL_STAGE}.parquet",
    output:
        cnn_fits=f"{CATALOGUES}/vetted_cnn.fits",
        cnn_parquet=f"{CATALOGUES}/vetted_cnn.parquet",
        classical_fits=f"{CATALOGUES}/vetted_classical.fits",
        classical_parquet=f"{CATALOGUES}/vetted_classical.parquet",
    log:
        logfile("catalogues/catalogue_vetted.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        footprint=config["sky"]["footprint"],
        splits=CUTOUTS["splits"],
        stage=EVAL_STAGE,
    script:
        "../scripts/catalogue_vetted.py"
