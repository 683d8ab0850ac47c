rule demo_corpus:
    """Synthesise the embedded demo corpus in IEMOCAP's release layout (no download)."""
    output:
        audio=directory(f"{RESULTS}/{{corpus}}/audio"),
    log:
        f"{RESULTS}/{{corpus}}/logs/demo_corpus.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/demo_corpus.tsv"
    wildcard_constraints:
        corpus=CONFIGURED_CORPUS,
    conda:
        "../../envs/workflow.yaml"
    threads: 8
    resources:
        mem_mb=lambda wildcards, threads: 500 + 300 * threads,
        runtime=30,
    params:
        demo=lambda wildcards: plain(corpus_settings(wildcards)["demo"]),
    script:
        "../scripts/demo_corpus.py"


checkpoint corpus:
    """Read the corpus, check every audio file, write the manifest and the rejected list."""
    input:
        unpack(corpus_inputs),
    output:
        manifest=f"{RESULTS}/{{corpus}}/manifest.tsv",
        rejected=f"{RESULTS}/{{corpus}}/rejected.tsv",
        summary=f"{RESULTS}/{{corpus}}/corpus_summary.txt",
        provenance=f"{RESULTS}/{{corpus}}/manifest.json",
    log:
        f"{RESULTS}/{{corpus}}/logs/corpus.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/corpus.tsv"
    wildcard_constraints:
        corpus=CONFIGURED_CORPUS,
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        settings=corpus_params,
        root=lambda wildcards: str(corpus_root(config, wildcards.corpus, RESULTS)),
        policy=plain(audio_policy(config)),
        strict=config["audio"]["strict"],
    script:
        "../scripts/corpus.py"
