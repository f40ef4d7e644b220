# The observed sky (DeepSZ section 1.2): white noise per band, and the cumulative noise stages
# summed from the component maps, whichever rule made them (simulate.smk or survey.smk).


# The CAMB lensed TT spectrum: the simulated CMB's input and the matched filter's CMB noise
# term, whatever the sky source.
rule cmb_spectrum:
    output:
        f"{SKY}/cmb_spectrum.ecsv",
    params:
        sky=config["sky"],
    log:
        "logs/sky/cmb_spectrum.log",
    benchmark:
        "benchmarks/output/sky/cmb_spectrum.tsv"
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/cmb_spectrum.py"


rule noise_map:
    output:
        f"{SKY}/components/noise_{{band}}.fits",
    params:
        sky=config["sky"],
        seed=config["seed"],
    log:
        "logs/sky/noise_map_{band}.log",
    benchmark:
        "benchmarks/output/sky/noise_map_{band}.tsv"
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/noise_map.py"


rule observed_map:
    input:
        observed_map_inputs,
    output:
        f"{SKY}/observed/{{stage}}_{{band}}.fits",
    params:
        sky=config["sky"],
    log:
        "logs/sky/observed_{stage}_{band}.log",
    benchmark:
        "benchmarks/output/sky/observed_{stage}_{band}.tsv"
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/observed_map.py"


rule sky:
    input:
        expand(f"{SKY}/observed/{{stage}}_{{band}}.fits", stage=STAGES, band=BANDS),
        f"{SKY}/halos.parquet",
        f"{SKY}/sources.parquet",
