# Beyond the paper: pooled codes, activation/valence regression, exported model bundles, and
# the cross-corpus matrix. Their inputs depend on the corpus's folds (the `corpus` checkpoint).


wildcard_constraints:
    scope="(-without-[A-Za-z0-9_.-]+|-from-[A-Za-z0-9][A-Za-z0-9_-]*)?",
    source="[A-Za-z0-9][A-Za-z0-9_-]*",


# Pretraining on all corpora at once (a row of the cross-corpus matrix): their manifests and
# feature sets joined under results/all-corpora/, where the usual training rules find them
# (the rules that read a corpus match only configured corpus names).


rule combine_corpora:
    """The manifests of the cross-corpus corpora as one (ids prefixed with the corpus)."""
    input:
        manifests=lambda wildcards: [manifest_of(c) for c in cross_corpora()],
    output:
        manifest=f"{RESULTS}/{COMBINED}/manifest.tsv",
        provenance=f"{RESULTS}/{COMBINED}/manifest.json",
    log:
        f"{RESULTS}/{COMBINED}/logs/combine_corpora.log",
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        names=cross_corpora(),
    script:
        "../scripts/combine_corpora.py"


rule combine_features:
    """The feature sets of the cross-corpus corpora as one, each normalised as it was."""
    input:
        # frames, index and stats of each corpus, in the order of params.sources
        features=lambda wildcards: [
            features_of(c, wildcards.spec)[name]
            for c in cross_corpora()
            for name in ("frames", "index", "stats")
        ],
    output:
        frames=f"{RESULTS}/{COMBINED}/features/{{spec}}/frames.npy",
        index=f"{RESULTS}/{COMBINED}/features/{{spec}}/index.tsv",
        stats=f"{RESULTS}/{COMBINED}/features/{{spec}}/stats.npz",
    log:
        f"{RESULTS}/{COMBINED}/logs/combine_features_{{spec}}.log",
    benchmark:
        f"{RESULTS}/{COMBINED}/benchmarks/combine_features_{{spec}}.tsv"
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        sources=lambda wildcards: plain(
            {c: f"{RESULTS}/{c}/features/{wildcards.spec}" for c in cross_corpora()}
        ),
    script:
        "../scripts/combine_features.py"


# Codes of a corpus's frames under the encoder pretrained on another corpus: rule `encode`
# with other paths.
use rule encode as encode_from with:
    input:
        unpack(model_features),
        encoder=f"{RESULTS}/{{source}}/models/{{model}}/encoder.npz",
    output:
        codes=f"{RESULTS}/{{corpus}}/codes-from-{{source}}/{{model}}.npy",
        provenance=f"{RESULTS}/{{corpus}}/codes-from-{{source}}/{{model}}.json",
    log:
        f"{RESULTS}/{{corpus}}/logs/encode_{{model}}-from-{{source}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/encode_{{model}}-from-{{source}}.tsv"


rule pool_codes:
    """Statistics of each utterance's frame codes (Table 2's `pooled` column, the heads)."""
    input:
        codes=f"{RESULTS}/{{corpus}}/codes{{scope}}/{{model}}.npy",
        index=lambda wildcards: features_of(wildcards.corpus, model_spec(wildcards.model))["index"],
        manifest=f"{RESULTS}/{{corpus}}/manifest.tsv",
    output:
        vectors=f"{RESULTS}/{{corpus}}/pooled{{scope}}/{{model}}.npy",
        ids=f"{RESULTS}/{{corpus}}/pooled{{scope}}/{{model}}.tsv",
        provenance=f"{RESULTS}/{{corpus}}/pooled{{scope}}/{{model}}.json",
    log:
        f"{RESULTS}/{{corpus}}/logs/pool_{{model}}{{scope}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/pool_{{model}}{{scope}}.tsv"
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        pooling=plain(config["representations"]["pooling"]),
    script:
        "../scripts/pool_codes.py"


rule dimensional:
    """Activation and valence regression (CCC, Pearson r) beside Table 2."""
    input:
        unpack(dimensional_inputs),
    output:
        tsv=f"{RESULTS}/{{corpus}}/tables/dimensional.tsv",
        md=f"{RESULTS}/{{corpus}}/tables/dimensional.md",
        html=report(
            f"{RESULTS}/{{corpus}}/tables/dimensional.html",
            caption="../report/dimensional.rst",
            category="Tables",
        ),
        runs=f"{RESULTS}/{{corpus}}/tables/dimensional_runs.json",
        provenance=f"{RESULTS}/{{corpus}}/tables/dimensional.json",
        figure=report(
            f"{RESULTS}/{{corpus}}/figures/dimensional.png",
            caption="../report/dimensional.rst",
            category="Dimensional affect",
        ),
    log:
        f"{RESULTS}/{{corpus}}/logs/dimensional.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/dimensional.tsv"
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        corpus=lambda wildcards: wildcards.corpus,
        sources=lambda wildcards: plain(dimensional_sources(wildcards)),
        titles=lambda wildcards: plain(dimensional_titles()),
        alphas=plain(config["use"]["regression_alphas"]),
        external=plain(sorted(EXTERNAL)),
    script:
        "../scripts/dimensional.py"


rule export:
    """A self-contained model bundle: encoder, features, BLSTM, heads, config, model card."""
    input:
        encoder=f"{RESULTS}/{{corpus}}/models/{{model}}/encoder.npz",
        blstm=f"{RESULTS}/{{corpus}}/models/{{model}}/blstm.npz",
        stats=lambda wildcards: features_of(wildcards.corpus, model_spec(wildcards.model))["stats"],
        index=lambda wildcards: features_of(wildcards.corpus, model_spec(wildcards.model))["index"],
        pooled=f"{RESULTS}/{{corpus}}/pooled/{{model}}.npy",
        ids=f"{RESULTS}/{{corpus}}/pooled/{{model}}.tsv",
        manifest=f"{RESULTS}/{{corpus}}/manifest.tsv",
    output:
        bundle=f"{RESULTS}/{{corpus}}/export/{{model}}/bundle.json",
        card=f"{RESULTS}/{{corpus}}/export/{{model}}/MODEL_CARD.md",
        card_html=report(
            f"{RESULTS}/{{corpus}}/export/{{model}}/MODEL_CARD.html",
            caption="../report/export.rst",
            category="Model bundles",
        ),
        files=[
            f"{RESULTS}/{{corpus}}/export/{{model}}/{name}"
            for name in ("encoder.npz", "blstm.npz", "features.npz", "heads.npz", "config.yaml")
        ],
    log:
        f"{RESULTS}/{{corpus}}/logs/export_{{model}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/export_{{model}}.tsv"
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        corpus=lambda wildcards: wildcards.corpus,
        model=lambda wildcards: wildcards.model,
        utterance=plain(config["classification"]["utterance"]),
        window_s=plain(config["use"]["window_s"]),
        seed=config["classification"]["seed"],
        code_layer=config["representations"]["code_layer"],
    script:
        "../scripts/export.py"


rule cross_corpus:
    """The train corpus x test corpus matrix of emotion recognition on shared classes."""
    input:
        unpack(cross_corpus_inputs),
    output:
        tsv=f"{RESULTS}/cross_corpus/{{model}}.tsv",
        md=f"{RESULTS}/cross_corpus/{{model}}.md",
        html=report(
            f"{RESULTS}/cross_corpus/{{model}}.html",
            caption="../report/cross_corpus.rst",
            category="Cross-corpus",
        ),
        cells=f"{RESULTS}/cross_corpus/{{model}}.json",
        figure=report(
            f"{RESULTS}/cross_corpus/{{model}}.png",
            caption="../report/cross_corpus.rst",
            category="Cross-corpus",
        ),
    log:
        f"{RESULTS}/cross_corpus/logs/{{model}}.log",
    benchmark:
        f"{RESULTS}/cross_corpus/benchmarks/{{model}}.tsv"
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        corpora=cross_corpora(),
        pooled=lambda wildcards: plain(cross_corpus_pooled(wildcards)),
        manifests=lambda wildcards: plain(cross_corpus_manifests(wildcards)),
        combined=COMBINED if len(cross_corpora()) > 1 else None,
        title=lambda wildcards: model_title(wildcards.model),
        settings=plain(
            {**config["classification"]["utterance"], "seed": config["classification"]["seed"]}
        ),
    script:
        "../scripts/cross_corpus.py"
