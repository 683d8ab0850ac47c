# Utterance representations and pictures (paper sections 5.1-5.2, Figures 1 and 2).


wildcard_constraints:
    level="frames|utterances",


rule blstm_ae:
    """The BLSTM autoencoder over each utterance's codes; one vector per utterance."""
    input:
        codes=f"{RESULTS}/{{corpus}}/codes{{without}}/{{model}}.npy",
        index=lambda wildcards: features_of(wildcards.corpus, model_spec(wildcards.model))["index"],
        manifest=f"{RESULTS}/{{corpus}}/manifest.tsv",
    output:
        vectors=f"{RESULTS}/{{corpus}}/utterances{{without}}/{{model}}.npy",
        ids=f"{RESULTS}/{{corpus}}/utterances{{without}}/{{model}}.tsv",
        params=f"{RESULTS}/{{corpus}}/models{{without}}/{{model}}/blstm.npz",
        provenance=f"{RESULTS}/{{corpus}}/utterances{{without}}/{{model}}.json",
    log:
        f"{RESULTS}/{{corpus}}/logs/blstm_{{model}}{{without}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/blstm_{{model}}{{without}}.tsv"
    wildcard_constraints:
        # also over the codes of the encoder pretrained on every corpus (`-from-all-corpora`)
        without="(-without-[A-Za-z0-9_.-]+|-from-[A-Za-z0-9][A-Za-z0-9_-]*)?",
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=device_memory,
        runtime=240,
    params:
        model=lambda wildcards: wildcards.model,
        settings=plain(config["representations"]["blstm"]),
        statistics=plain(
            config["representations"]["pooling"]
            if config["representations"]["blstm"]["pooling"] == "statistics"
            else None
        ),
        exclude_session=excluded_session,
    script:
        "../scripts/blstm_ae.py"


rule masked_pretrain:
    """The masked spectrogram model (Table 2's `masked` column), trained without labels on
    the spectrogram frames of every utterance (or without one session, strict per fold)."""
    input:
        unpack(masked_features),
        manifest=f"{RESULTS}/{{corpus}}/manifest.tsv",
    output:
        model=f"{RESULTS}/{{corpus}}/masked{{without}}/model.npz",
    log:
        f"{RESULTS}/{{corpus}}/logs/masked_pretrain{{without}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/masked_pretrain{{without}}.tsv"
    wildcard_constraints:
        without="(-without-[A-Za-z0-9_.-]+)?",
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=device_memory,
        runtime=240,
    params:
        settings=plain(config["representations"]["masked"]),
        exclude_session=excluded_session,
    script:
        "../scripts/masked_pretrain.py"


rule masked_embed:
    """One vector per utterance: statistics of the masked model's outputs over the frames of
    the whole, unmasked utterance (`representations.pooling`, as the pooled codes)."""
    input:
        unpack(masked_features),
        model=masked_model,
        manifest=f"{RESULTS}/{{corpus}}/manifest.tsv",
    output:
        vectors=f"{RESULTS}/{{corpus}}/masked{{scope}}/vectors.npy",
        ids=f"{RESULTS}/{{corpus}}/masked{{scope}}/vectors.tsv",
        provenance=f"{RESULTS}/{{corpus}}/masked{{scope}}/vectors.json",
    log:
        f"{RESULTS}/{{corpus}}/logs/masked_embed{{scope}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/masked_embed{{scope}}.tsv"
    wildcard_constraints:
        # also with the model pretrained on every corpus (`-from-all-corpora`)
        scope="(-without-[A-Za-z0-9_.-]+|-from-[A-Za-z0-9][A-Za-z0-9_-]*)?",
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=device_memory,
        runtime=60,
    params:
        pooling=plain(config["representations"]["pooling"]),
    script:
        "../scripts/masked_embed.py"


rule tsne:
    """t-SNE of one configuration's frame codes or utterance vectors, three panels."""
    input:
        unpack(points_of),
        manifest=f"{RESULTS}/{{corpus}}/manifest.tsv",
    output:
        embedding=f"{RESULTS}/{{corpus}}/figures/tsne/{{level}}_{{model}}.npz",
        png=f"{RESULTS}/{{corpus}}/figures/{{level}}_{{model}}.png",
        pdf=f"{RESULTS}/{{corpus}}/figures/{{level}}_{{model}}.pdf",
    log:
        f"{RESULTS}/{{corpus}}/logs/tsne_{{level}}_{{model}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/tsne_{{level}}_{{model}}.tsv"
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        level=lambda wildcards: wildcards.level,
        title=lambda wildcards: tsne_title(wildcards.model, wildcards.level),
        max_points=lambda wildcards: config["representations"]["tsne"][wildcards.level],
        tsne=plain(config["representations"]["tsne"]),
    script:
        "../scripts/tsne.py"


rule figure:
    """Figure 1 (frames) or 2 (utterances): the paper's 3x3 grid of t-SNE panels."""
    input:
        embeddings=lambda wildcards: [
            f"{RESULTS}/{wildcards.corpus}/figures/tsne/{LEVEL_OF_FIGURE[wildcards.number]}_{m}.npz"
            for m in config["representations"]["models"]
        ],
    output:
        png=report(
            f"{RESULTS}/{{corpus}}/figures/figure{{number}}.png",
            caption="../report/figure.rst",
            category="Figures",
        ),
        pdf=f"{RESULTS}/{{corpus}}/figures/figure{{number}}.pdf",
    log:
        f"{RESULTS}/{{corpus}}/logs/figure{{number}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/figure_{{number}}.tsv"
    wildcard_constraints:
        number="1|2",
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        models=config["representations"]["models"],
        title=lambda wildcards: figure_title(wildcards.number, wildcards.corpus),
    script:
        "../scripts/figure.py"


rule separation:
    """How well each pictured representation separates emotions and tracks activation and
    valence, in numbers (speaker-independent)."""
    input:
        unpack(separation_inputs),
        manifest=f"{RESULTS}/{{corpus}}/manifest.tsv",
    output:
        tsv=f"{RESULTS}/{{corpus}}/tables/separation.tsv",
        md=f"{RESULTS}/{{corpus}}/tables/separation.md",
        html=report(
            f"{RESULTS}/{{corpus}}/tables/separation.html",
            caption="../report/separation.rst",
            category="Tables",
        ),
        provenance=f"{RESULTS}/{{corpus}}/tables/separation.json",
    log:
        f"{RESULTS}/{{corpus}}/logs/separation.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/separation.tsv"
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        sources=lambda wildcards: plain(separation_sources(wildcards)),
        settings=plain(config["representations"]["separation"]),
    script:
        "../scripts/separation.py"


rule training_curves:
    """The loss per epoch of the Table 2 encoder's training and of its BLSTM autoencoder."""
    input:
        unpack(training_curves_inputs),
    output:
        png=report(
            f"{RESULTS}/{{corpus}}/figures/training_curves.png",
            caption="../report/training_curves.rst",
            category="Figures",
        ),
        pdf=f"{RESULTS}/{{corpus}}/figures/training_curves.pdf",
    log:
        f"{RESULTS}/{{corpus}}/logs/training_curves.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/training_curves.tsv"
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        model=plain(config["classification"]["encoder"]),
        corpus=lambda wildcards: wildcards.corpus,
    script:
        "../scripts/training_curves.py"
