rule features:
    """Spectrogram frames of every utterance: frames.npy, index.tsv, stats.npz."""
    input:
        manifest=f"{RESULTS}/{{corpus}}/manifest.tsv",
    output:
        frames=f"{RESULTS}/{{corpus}}/features/{{spec}}/frames.npy",
        index=f"{RESULTS}/{{corpus}}/features/{{spec}}/index.tsv",
        stats=f"{RESULTS}/{{corpus}}/features/{{spec}}/stats.npz",
    log:
        f"{RESULTS}/{{corpus}}/logs/features_{{spec}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/features_{{spec}}.tsv"
    wildcard_constraints:
        corpus=CONFIGURED_CORPUS,
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        spec=lambda wildcards: plain(spectrogram_spec(config, wildcards.spec)),
        normalization=config["features"]["normalization"],
        policy=plain(audio_policy(config)),
    script:
        "../scripts/features.py"
