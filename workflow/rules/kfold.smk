# K-fold RA stripes (config kfold, cutouts.splits.folds): Table 1 over the runs of the folds,
# each a run of its own in kfold.results_dir with {fold} = 0..kfold.folds-1 (input functions:
# kfold_* in common.smk).


rule kfold_table1:
    input:
        tables=kfold_inputs("tables/table1.csv"),
        indexes=kfold_inputs("cutouts/index.parquet"),
    output:
        csv=report(
            f"{RESULTS}/kfold/table1.csv",
            caption="../report/kfold_table1.rst",
            category="K-fold stripes",
            labels={"table": "Table 1 over the folds (CSV)"},
        ),
        md=report(
            f"{RESULTS}/kfold/table1.md",
            caption="../report/kfold_table1.rst",
            category="K-fold stripes",
            labels={"table": "Table 1 over the folds (Markdown)"},
        ),
    log:
        logfile("kfold/kfold_table1.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        folds=kfold_folds,
        total=config["kfold"]["folds"],
        missing=kfold_missing,
    script:
        "../scripts/kfold_table1.py"


rule kfold:
    input:
        rules.kfold_table1.output,
