wildcard_constraints:
    stacked="(tied|untied)-[A-Za-z0-9]+-c[0-9]+",
    deep="deep-[A-Za-z0-9]+-c[0-9]+",
    model="(tied|untied|deep)-[A-Za-z0-9]+-c[0-9]+",
    layer="[1-9][0-9]*",
    # Empty: pretraining on every utterance (the paper). `-without-<session>`: strict
    # per-fold pretraining (classification.pretraining: train) that never sees that session.
    without="(-without-[A-Za-z0-9_.-]+)?",


rule pretrain_layer:
    """Greedy training of layer k of a stacked denoising autoencoder (layers below frozen)."""
    input:
        unpack(model_features),
        lower=lower_layers,
        manifest=f"{RESULTS}/{{corpus}}/manifest.tsv",
    output:
        layer=f"{RESULTS}/{{corpus}}/models{{without}}/{{stacked}}/layer{{layer}}.npz",
    log:
        f"{RESULTS}/{{corpus}}/logs/pretrain_{{stacked}}_layer{{layer}}{{without}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/pretrain_{{stacked}}_layer{{layer}}{{without}}.tsv"
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=device_memory,
        runtime=240,
    params:
        model=lambda wildcards: wildcards.stacked,
        widths=lambda wildcards: model_widths(config, wildcards.stacked),
        settings=lambda wildcards: plain(train_settings(config)),
        exclude_session=excluded_session,
    script:
        "../scripts/pretrain_layer.py"


rule finetune_deep:
    """The encoder of a greedy stack, fine-tuned as one deep autoencoder (0 epochs: as is)."""
    input:
        unpack(model_features),
        layers=stack_layers,
        manifest=f"{RESULTS}/{{corpus}}/manifest.tsv",
    output:
        encoder=f"{RESULTS}/{{corpus}}/models{{without}}/{{stacked}}/encoder.npz",
    log:
        f"{RESULTS}/{{corpus}}/logs/finetune_{{stacked}}{{without}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/finetune_{{stacked}}{{without}}.tsv"
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=device_memory,
        runtime=240,
    params:
        model=lambda wildcards: wildcards.stacked,
        widths=lambda wildcards: model_widths(config, wildcards.stacked),
        settings=lambda wildcards: plain(train_settings(config, finetune=True)),
        exclude_session=excluded_session,
    script:
        "../scripts/finetune_deep.py"


rule train_deep:
    """A deep autoencoder, all layers trained jointly on corrupted input."""
    input:
        unpack(model_features),
        manifest=f"{RESULTS}/{{corpus}}/manifest.tsv",
    output:
        encoder=f"{RESULTS}/{{corpus}}/models{{without}}/{{deep}}/encoder.npz",
    log:
        f"{RESULTS}/{{corpus}}/logs/train_{{deep}}{{without}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/train_{{deep}}{{without}}.tsv"
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=device_memory,
        runtime=240,
    params:
        model=lambda wildcards: wildcards.deep,
        widths=lambda wildcards: model_widths(config, wildcards.deep),
        settings=lambda wildcards: plain(train_settings(config)),
        exclude_session=excluded_session,
    script:
        "../scripts/train_deep.py"


rule encode:
    """The code of every frame: the encoder's bottleneck, or the output of encoder layer
    `representations.code_layer`."""
    input:
        unpack(model_features),
        encoder=f"{RESULTS}/{{corpus}}/models{{without}}/{{model}}/encoder.npz",
    output:
        codes=f"{RESULTS}/{{corpus}}/codes{{without}}/{{model}}.npy",
        provenance=f"{RESULTS}/{{corpus}}/codes{{without}}/{{model}}.json",
    log:
        f"{RESULTS}/{{corpus}}/logs/encode_{{model}}{{without}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/encode_{{model}}{{without}}.tsv"
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=device_memory,
        runtime=60,
    params:
        model=lambda wildcards: wildcards.model,
        code_layer=config["representations"]["code_layer"],
    script:
        "../scripts/encode.py"
