# The transfer study (issue 17, after DeepShadows): this run's CNN (the source, EVAL_STAGE) and
# matched filter on the target runs of transfer.pairs that exist (their own results_dir), zero-shot,
# fine-tuned and from scratch on N labelled target cutouts (input functions: transfer_* in
# common.smk). Named target `transfer`, not in `all`.


wildcard_constraints:
    pair="|".join(TRANSFER_PAIRS) or "no-target-run",
    mode="fine_tune|scratch",
    n="|".join(str(n) for n in config["transfer"]["n_labelled"]),
    replicate=r"\d+",


# No target label: the source model and the target's cutout array only.
rule transfer_zero_shot:
    input:
        model=f"{RESULTS}/cnn/{EVAL_STAGE}/model.ckpt",
        array=transfer_zero_shot_array,
    output:
        scores=f"{RESULTS}/transfer/{{pair}}/zero_shot.parquet",
    log:
        logfile("transfer/{pair}/zero_shot.log"),
    benchmark:
        benchfile("transfer/{pair}/zero_shot.tsv")
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
        "../scripts/transfer_zero_shot.py"


rule transfer_train:
    input:
        unpack(transfer_cnn_inputs),
    output:
        scores=f"{RESULTS}/transfer/{{pair}}/{{mode}}/n{{n}}_s{{replicate}}.parquet",
    log:
        logfile("transfer/{pair}/{mode}_n{n}_s{replicate}.log"),
    benchmark:
        benchfile("transfer/{pair}/{mode}_n{n}_s{replicate}.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=1,
    params:
        seed=config["seed"],
        cnn=pick(config["cnn"], "architecture", "accelerator", "optimizer"),
        training=pick(
            config["cnn"]["training"], "batch_size", "max_batches_per_ratio", "augment"
        ),
        transfer=without(config["transfer"], "pairs", "n_labelled", "seeds"),
        # not an output, so that a killed job resumes (only under the same fingerprint)
        workdir=f"{RESULTS}/transfer/{{pair}}/{{mode}}/n{{n}}_s{{replicate}}_checkpoints",
    script:
        "../scripts/transfer_train.py"


rule transfer_mf_maps:
    input:
        unpack(transfer_mf_inputs),
    output:
        candidates=f"{RESULTS}/transfer/{{pair}}/mf_maps/candidates.parquet",
        removed_sources=f"{RESULTS}/transfer/{{pair}}/mf_maps/point_sources.parquet",
        cutout_snr_table=f"{RESULTS}/transfer/{{pair}}/mf_maps/cutout_snr.parquet",
    log:
        logfile("transfer/{pair}/mf_maps.log"),
    benchmark:
        benchfile("transfer/{pair}/mf_maps.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    threads: 2
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        target=transfer_mf_target,
    script:
        "../scripts/transfer_mf_maps.py"


rule transfer_metrics:
    input:
        unpack(transfer_metrics_inputs),
        zero_shot=f"{RESULTS}/transfer/{{pair}}/zero_shot.parquet",
        fine_tune=transfer_runs("fine_tune"),
        scratch=transfer_runs("scratch"),
        source_thresholds=f"{RESULTS}/ensembles/thresholds.json",
        mf_maps=f"{RESULTS}/transfer/{{pair}}/mf_maps/cutout_snr.parquet",
    output:
        metrics=f"{RESULTS}/transfer/{{pair}}/metrics.parquet",
    log:
        logfile("transfer/{pair}/metrics.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        n_labelled=[str(n) for n in config["transfer"]["n_labelled"]],
        seeds=config["transfer"]["seeds"],
    script:
        "../scripts/transfer_metrics.py"


rule transfer_table:
    input:
        metrics=expand(
            f"{RESULTS}/transfer/{{pair}}/metrics.parquet", pair=TRANSFER_PAIRS
        ),
    output:
        csv=report(
            f"{RESULTS}/tables/transfer.csv",
            caption="../report/transfer_table.rst",
            category="Transfer",
            labels={"table": "Transfer: test F1 and AUC over seeds (CSV)"},
        ),
        md=report(
            f"{RESULTS}/tables/transfer.md",
            caption="../report/transfer_table.rst",
            category="Transfer",
            labels={"table": "Transfer: test F1 and AUC over seeds (Markdown)"},
        ),
    log:
        logfile("transfer/transfer_table.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        missing=transfer_missing,
    script:
        "../scripts/transfer_table.py"


rule transfer_f1:
    input:
        metrics=rules.transfer_table.input.metrics,
    output:
        png=report(
            f"{RESULTS}/figures/transfer_f1.png",
            caption="../report/transfer_f1.rst",
            category="Transfer",
            labels={"figure": "F1 against labelled target cutouts"},
        ),
        pdf=f"{RESULTS}/figures/transfer_f1.pdf",
    log:
        logfile("transfer/transfer_f1.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/figures/transfer_f1.py"


rule transfer_confusion:
    input:
        metrics=rules.transfer_table.input.metrics,
    output:
        png=report(
            f"{RESULTS}/figures/transfer_confusion.png",
            caption="../report/transfer_confusion.rst",
            category="Transfer",
            labels={"figure": "Confusion matrices before and after fine-tuning"},
        ),
        pdf=f"{RESULTS}/figures/transfer_confusion.pdf",
    log:
        logfile("transfer/transfer_confusion.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/figures/transfer_confusion.py"


rule transfer:
    input:
        rules.transfer_table.output,
        rules.transfer_f1.output,
        rules.transfer_confusion.output,
