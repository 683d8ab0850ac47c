# Leave-one-session-out emotion classification (paper section 6, Table 2). The runs depend on
# the corpus's speakers and sessions, so their inputs are known once the manifest exists
# (`corpus` is a checkpoint).


wildcard_constraints:
    mlp_method="pretrained-mlp|mlp",
    vector_method=vector_method_pattern(),
    functionals="|".join(FUNCTIONAL_SETS),
    # `{session}-{test speaker}` (`Ses01-Ses01F`, `g1-03`): `affectrep.protocol.folds.Fold.name`
    fold="[A-Za-z0-9_.-]+-[A-Za-z0-9_.-]+",


rule folds:
    """Every run's session, train, validation and test speakers, for reuse of the exact splits."""
    input:
        manifest=f"{RESULTS}/{{corpus}}/manifest.tsv",
    output:
        tsv=f"{RESULTS}/{{corpus}}/folds/folds.tsv",
        provenance=f"{RESULTS}/{{corpus}}/folds/folds.json",
    log:
        f"{RESULTS}/{{corpus}}/logs/folds.log",
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/folds.py"


rule functionals:
    """openSMILE functionals of every utterance: eGeMAPS v02 (88) or ComParE 2016 (6,373),
    the hand-crafted baselines."""
    input:
        manifest=f"{RESULTS}/{{corpus}}/manifest.tsv",
    output:
        vectors=f"{RESULTS}/{{corpus}}/{{functionals}}/functionals.npy",
        ids=f"{RESULTS}/{{corpus}}/{{functionals}}/functionals.tsv",
        names=f"{RESULTS}/{{corpus}}/{{functionals}}/feature_names.txt",
        provenance=f"{RESULTS}/{{corpus}}/{{functionals}}/functionals.json",
    log:
        f"{RESULTS}/{{corpus}}/logs/{{functionals}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/{{functionals}}.tsv"
    conda:
        "../../envs/egemaps.yaml"
    threads: 4  # openSMILE processes (fewer when the run has fewer cores)
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        policy=plain(audio_policy(config)),
        feature_set=lambda wildcards: plain(wildcards.functionals),
    script:
        "../scripts/functionals.py"


rule fold_mlp:
    """One run of a frame-level MLP (pretrained from the encoder, or from random weights):
    Table 2 reads these with `classification.fold_jobs: fold`, else rule `mlp_runs`'s file;
    either way a single run can be made (or made again) on its own."""
    input:
        unpack(mlp_fold_inputs),
    output:
        result=f"{RESULTS}/{{corpus}}/folds/{{mlp_method}}/{{fold}}.json",
    log:
        f"{RESULTS}/{{corpus}}/logs/folds/{{mlp_method}}_{{fold}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/folds/{{mlp_method}}_{{fold}}.tsv"
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=device_memory,
        runtime=240,
    params:
        method=lambda wildcards: wildcards.mlp_method,
        context=lambda wildcards: classification_encoder().context,
        hidden=lambda wildcards: model_widths(config, str(classification_encoder()))[1:],
        settings=lambda wildcards: plain(mlp_settings(config)),
        pretraining=config["classification"]["pretraining"],
    script:
        "../scripts/fold_mlp.py"


rule fold_vectors:
    """One run of the softmax on utterance vectors (openSMILE functionals, BLSTM vectors, pooled
    codes, several of them side by side, or vectors computed elsewhere:
    `classification.vectors`); as `fold_mlp`, the unit of `classification.fold_jobs: fold`."""
    input:
        unpack(vector_fold_inputs),
    output:
        result=f"{RESULTS}/{{corpus}}/folds/{{vector_method}}/{{fold}}.json",
    log:
        f"{RESULTS}/{{corpus}}/logs/folds/{{vector_method}}_{{fold}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/folds/{{vector_method}}_{{fold}}.tsv"
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        method=lambda wildcards: wildcards.vector_method,
        settings=lambda wildcards: plain(
            {**config["classification"]["utterance"], "seed": config["classification"]["seed"]}
        ),
        pretraining=lambda wildcards: plain(vector_pretraining(wildcards.vector_method)),
        # The `classification.vectors` entry of an external column (None for the others): its
        # record names the files, which no provenance record of the workflow describes.
        external=lambda wildcards: plain(EXTERNAL.get(wildcards.vector_method)),
    script:
        "../scripts/fold_vectors.py"


rule mlp_runs:
    """Every run of a frame-level MLP in one job (`classification.fold_jobs: method`)."""
    input:
        unpack(mlp_runs_inputs),
    output:
        result=f"{RESULTS}/{{corpus}}/folds/{{mlp_method}}/runs.json",
    log:
        f"{RESULTS}/{{corpus}}/logs/folds/{{mlp_method}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/folds/{{mlp_method}}.tsv"
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=device_memory,
        runtime=2400,  # 10 folds of fold_mlp's 240 (a number: no checkpoint needed)
    params:
        method=lambda wildcards: wildcards.mlp_method,
        context=lambda wildcards: classification_encoder().context,
        hidden=lambda wildcards: model_widths(config, str(classification_encoder()))[1:],
        settings=lambda wildcards: plain(mlp_settings(config)),
        pretraining=config["classification"]["pretraining"],
        encoders=lambda wildcards: plain(mlp_encoders(wildcards)),
    script:
        "../scripts/mlp_runs.py"


rule vector_runs:
    """Every run of the softmax on one column's utterance vectors in one job
    (`classification.fold_jobs: method`)."""
    input:
        unpack(vector_runs_inputs),
    output:
        result=f"{RESULTS}/{{corpus}}/folds/{{vector_method}}/runs.json",
    log:
        f"{RESULTS}/{{corpus}}/logs/folds/{{vector_method}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/folds/{{vector_method}}.tsv"
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=300,  # 10 folds of fold_vectors's 30
    params:
        method=lambda wildcards: wildcards.vector_method,
        settings=lambda wildcards: plain(
            {**config["classification"]["utterance"], "seed": config["classification"]["seed"]}
        ),
        pretraining=lambda wildcards: plain(vector_pretraining(wildcards.vector_method)),
        external=lambda wildcards: plain(EXTERNAL.get(wildcards.vector_method)),
        sources=lambda wildcards: plain(vector_sources(wildcards)),
    script:
        "../scripts/vector_runs.py"


rule table2:
    """Table 2: every method's runs as mean +- std, beside the paper's; confusion figures."""
    input:
        unpack(table2_inputs),
    output:
        tsv=f"{RESULTS}/{{corpus}}/tables/table2.tsv",
        md=f"{RESULTS}/{{corpus}}/tables/table2.md",
        html=report(
            f"{RESULTS}/{{corpus}}/tables/table2.html",
            caption="../report/table2.rst",
            category="Tables",
        ),
        provenance=f"{RESULTS}/{{corpus}}/tables/table2.json",
        # every column against the best hand-crafted one, paired by test speaker; the JSON
        # holds the same numbers (and the TSV's provenance record)
        paired_tsv=f"{RESULTS}/{{corpus}}/tables/table2_paired.tsv",
        paired=f"{RESULTS}/{{corpus}}/tables/table2_paired.json",
        confusions=[
            report(
                f"{RESULTS}/{{corpus}}/figures/confusion_{method}.png",
                caption="../report/confusion.rst",
                category="Classification",
            )
            for method in table2_methods()
        ],
    log:
        f"{RESULTS}/{{corpus}}/logs/table2.log",
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        corpus=lambda wildcards: wildcards.corpus,
        methods=plain(table2_methods()),
        titles=lambda wildcards: plain(method_titles()),
        external=plain(external_methods()),
        paired=plain(paired_settings()),
    script:
        "../scripts/table2.py"
