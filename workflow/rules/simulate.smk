# Simulated millimetre sky (DeepSZ section 1.1): halos, SZ, point sources, CMB and dust maps
# on the footprint (sky.source: simulate). Included by the Snakefile instead of survey.smk.


rule halos:
    output:
        f"{SKY}/halos.parquet",
    params:
        sky=config["sky"],
        seed=config["seed"],
    log:
        "logs/sky/halos.log",
    benchmark:
        "benchmarks/output/sky/halos.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/halos.py"


rule sources:
    input:
        halos=f"{SKY}/halos.parquet",
    output:
        f"{SKY}/sources.parquet",
    params:
        sky=config["sky"],
        seed=config["seed"],
    log:
        "logs/sky/sources.log",
    benchmark:
        "benchmarks/output/sky/sources.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/sources.py"


rule cmb_map:
    input:
        spectrum=f"{SKY}/cmb_spectrum.ecsv",
    output:
        expand(f"{SKY}/components/cmb_{{band}}.fits", band=BANDS),
    params:
        sky=config["sky"],
        seed=config["seed"],
    log:
        "logs/sky/cmb_map.log",
    benchmark:
        "benchmarks/output/sky/cmb_map.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/cmb_map.py"


rule sz_maps:
    input:
        halos=f"{SKY}/halos.parquet",
    output:
        tsz=expand(f"{SKY}/components/tsz_{{band}}.fits", band=BANDS),
        ksz=expand(f"{SKY}/components/ksz_{{band}}.fits", band=BANDS),
    params:
        sky=config["sky"],
    log:
        "logs/sky/sz_maps.log",
    benchmark:
        "benchmarks/output/sky/sz_maps.tsv"
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/sz_maps.py"


rule source_maps:
    input:
        sources=f"{SKY}/sources.parquet",
    output:
        ir=expand(f"{SKY}/components/ir_{{band}}.fits", band=BANDS),
        radio=expand(f"{SKY}/components/radio_{{band}}.fits", band=BANDS),
    params:
        sky=config["sky"],
    log:
        "logs/sky/source_maps.log",
    benchmark:
        "benchmarks/output/sky/source_maps.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/source_maps.py"


rule dust_map:
    output:
        expand(f"{SKY}/components/dust_{{band}}.fits", band=BANDS),
    params:
        sky=config["sky"],
        seed=config["seed"],
    log:
        "logs/sky/dust_map.log",
    benchmark:
        "benchmarks/output/sky/dust_map.tsv"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/skyhunt.yaml"
    script:
        "../scripts/dust_map.py"
