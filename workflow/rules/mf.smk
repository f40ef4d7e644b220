# Open multi-frequency matched filter (DeepSZ section 2.1) and matching of its detections to
# halos and cutouts (section 2.3), one job per noise stage.


# The scan filter's transfer function on the matched filter's tiles, measured with white
# fields passed through the filter (only when sky.scan_filter is on).
rule scan_transfer:
    output:
        transfer=f"{RESULTS}/mf/scan_transfer.fits",
    log:
        logfile("mf/scan_transfer.log"),
    benchmark:
        benchfile("mf/scan_transfer.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        nside=config["sky"]["nside"],
        footprint=config["sky"]["footprint"],
        scan_filter=config["sky"]["scan_filter"],
        tiles=config["mf"]["tiles"],
        seed=config["seed"],
    script:
        "../scripts/scan_transfer.py"


rule matched_filter:
    input:
        unpack(matched_filter_transfer),
        maps=expand(f"{SKY}/observed/{{{{stage}}}}_{{band}}.fits", band=BANDS),
        spectrum=f"{SKY}/cmb_spectrum.ecsv",
        sources=mf_sources,
        ivar=mf_ivar_inputs,
    output:
        candidates=f"{RESULTS}/mf/{{stage}}/candidates.parquet",
        removed_sources=f"{RESULTS}/mf/{{stage}}/point_sources.parquet",
    log:
        logfile("mf/matched_filter_{stage}.log"),
    benchmark:
        benchfile("mf/matched_filter_{stage}.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    # one core: only the FFTs are threaded, and they are a small part of the job
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        nside=config["sky"]["nside"],
        footprint=config["sky"]["footprint"],
        bands=config["sky"]["bands"],
        point_sources=config["sky"]["point_sources"],
        red_noise=pick(
            config["sky"]["noise"],
            "red_correlation",
            "red_correlation_groups",
            "red_ell_min",
            "red_cut_fraction",
        ),
        mf=without(config["mf"], "matching"),
        components=components_of_stage,
        scan_filter=SCAN_FILTER,
    script:
        "../scripts/matched_filter.py"


rule match_mf:
    input:
        candidates=f"{RESULTS}/mf/{{stage}}/candidates.parquet",
        halos=f"{SKY}/halos.parquet",
        index=f"{RESULTS}/cutouts/index.parquet",
    output:
        cutout_snr_table=f"{RESULTS}/mf/{{stage}}/cutout_snr.parquet",
    log:
        logfile("mf/match_mf_{stage}.log"),
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cutouts=pick(config["cutouts"], "size_arcmin", "npix", "stride_arcmin"),
        matching=config["mf"]["matching"],
    script:
        "../scripts/match_mf.py"


rule mf:
    input:
        expand(f"{RESULTS}/mf/{{stage}}/candidates.parquet", stage=STAGES),
        expand(f"{RESULTS}/mf/{{stage}}/point_sources.parquet", stage=STAGES),
        expand(f"{RESULTS}/mf/{{stage}}/cutout_snr.parquet", stage=STAGES),
