# Setups side by side (config compare.setups): one Table 1 and one noise ladder for the runs
# of several configurations, e.g. DeepSZ's instrument and the realistic presets.


rule compare_table1:
    input:
        tables=compared_tables("table1.csv"),
    output:
        csv=report(
            f"{RESULTS}/compare/table1.csv",
            caption="../report/compare_table1.rst",
            category="Setups compared",
            labels={"table": "Table 1, every setup (CSV)"},
        ),
        md=report(
            f"{RESULTS}/compare/table1.md",
            caption="../report/compare_table1.rst",
            category="Setups compared",
            labels={"table": "Table 1, every setup (Markdown)"},
        ),
    log:
        logfile("compare/compare_table1.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        setups=compared_names,
    script:
        "../scripts/compare_table1.py"


rule compare_noise_ladder:
    input:
        tables=compared_tables("noise_components.csv"),
    output:
        png=report(
            f"{RESULTS}/compare/noise_ladder.png",
            caption="../report/compare_noise_ladder.rst",
            category="Setups compared",
            labels={"figure": "Noise ladder, every setup"},
        ),
        pdf=f"{RESULTS}/compare/noise_ladder.pdf",
    log:
        logfile("compare/compare_noise_ladder.log"),
    localrule: True
    conda:
        "../../envs/skyhunt.yaml"
    params:
        setups=compared_names,
    script:
        "../scripts/figures/compare_noise_ladder.py"


rule compare:
    input:
        rules.compare_table1.output,
        rules.compare_noise_ladder.output,
