# The CNN classifier (DeepSZ section 2.2): one model per noise stage listed in config cnn.stages.


rule train_cnn:
    input:
        array=f"{RESULTS}/cutouts/{{stage}}.npy",
        index=f"{RESULTS}/cutouts/index.parquet",
    output:
        model=f"{RESULTS}/cnn/{{stage}}/model.ckpt",
        history=f"{RESULTS}/cnn/{{stage}}/history.csv",
        summary=f"{RESULTS}/cnn/{{stage}}/training.json",
    log:
        logfile("cnn/train_{stage}.log"),
    benchmark:
        benchfile("cnn/train_{stage}.tsv")
    # the longest jobs first, once their inputs exist
    priority: 1
    conda:
        "../../envs/skyhunt.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=1,
    params:
        cnn=without(config["cnn"], "stages", "progress_bar"),
        seed=config["seed"],
        # One directory per rung of the ratio ladder; not an output, so that a killed job resumes
        # from it (only while its fingerprint.json matches the config and inputs).
        workdir=f"{RESULTS}/cnn/{{stage}}/checkpoints",
    script:
        "../scripts/train_cnn.py"


rule score_cnn:
    input:
        model=f"{RESULTS}/cnn/{{stage}}/model.ckpt",
        array=f"{RESULTS}/cutouts/{{stage}}.npy",
        index=f"{RESULTS}/cutouts/index.parquet",
    output:
        scores=f"{RESULTS}/cnn/{{stage}}/scores.parquet",
    log:
        logfile("cnn/score_{stage}.log"),
    benchmark:
        benchfile("cnn/score_{stage}.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
        gpu=1,
    params:
        accelerator=config["cnn"]["accelerator"],
        batch_size=config["cnn"]["training"]["batch_size"],
    script:
        "../scripts/score_cnn.py"
