# The CNN classifier (DeepSZ section 2.2): one model per noise stage listed in config cnn.stages.


rule train_cnn:
    input:
        array="results/cutouts/{stage}.npy",
        index="results/cutouts/index.parquet",
    output:
        model="results/cnn/{stage}/model.ckpt",
        history="results/cnn/{stage}/history.csv",
        summary="results/cnn/{stage}/training.json",
    params:
        cnn=config["cnn"],
        seed=config["seed"],
        # One directory per rung of the ratio ladder; not an output, so that a killed job resumes
        # from it (only while its fingerprint.json matches the config and inputs).
        workdir="results/cnn/{stage}/checkpoints",
    log:
        "logs/cnn/train_{stage}.log",
    benchmark:
        "benchmarks/output/cnn/train_{stage}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=1,
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/train_cnn.py"


rule score_cnn:
    input:
        model="results/cnn/{stage}/model.ckpt",
        array="results/cutouts/{stage}.npy",
        index="results/cutouts/index.parquet",
    output:
        scores="results/cnn/{stage}/scores.parquet",
    params:
        cnn=config["cnn"],
    log:
        "logs/cnn/score_{stage}.log",
    benchmark:
        "benchmarks/output/cnn/score_{stage}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
        gpu=1,
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/score_cnn.py"
