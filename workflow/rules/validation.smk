rule validate:
    """Softmax on the codes of the training speakers, scored on the held-out speakers."""
    input:
        codes=f"{RESULTS}/{{corpus}}/codes/{{model}}.npy",
        manifest=f"{RESULTS}/{{corpus}}/manifest.tsv",
        index=lambda wildcards: features_of(wildcards.corpus, model_spec(wildcards.model))["index"],
    output:
        result=f"{RESULTS}/{{corpus}}/validation/{{model}}.json",
    log:
        f"{RESULTS}/{{corpus}}/logs/validate_{{model}}.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/validate_{{model}}.tsv"
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        model=lambda wildcards: wildcards.model,
        widths=lambda wildcards: code_widths(config, wildcards.model),
        validation=plain(config["validation"]),
        code_layer=config["representations"]["code_layer"],
    script:
        "../scripts/validate.py"


# The paper's baseline row: rule `validate` on the spectrogram frames themselves (no
# autoencoder, no context).
use rule validate as validate_baseline with:
    input:
        codes=f"{RESULTS}/{{corpus}}/features/{{spec}}/frames.npy",
        manifest=f"{RESULTS}/{{corpus}}/manifest.tsv",
        index=f"{RESULTS}/{{corpus}}/features/{{spec}}/index.tsv",
    output:
        result=f"{RESULTS}/{{corpus}}/validation/softmax-{{spec}}-c1.json",
    log:
        f"{RESULTS}/{{corpus}}/logs/validate_softmax-{{spec}}-c1.log",
    benchmark:
        f"{RESULTS}/{{corpus}}/benchmarks/validate_softmax-{{spec}}-c1.tsv"
    params:
        model=lambda wildcards: f"softmax-{wildcards.spec}-c1",
        widths=lambda wildcards: [spectrogram_spec(config, wildcards.spec).n_dims],
        validation=plain(config["validation"]),
        code_layer=0,


rule table1:
    """Table 1: validation accuracy of every configuration, beside the paper's."""
    input:
        results=table1_inputs,
    output:
        tsv=f"{RESULTS}/{{corpus}}/tables/table1.tsv",
        md=f"{RESULTS}/{{corpus}}/tables/table1.md",
        # The Markdown as a page: the HTML report shows HTML inline, TSV/Markdown only as files.
        html=report(
            f"{RESULTS}/{{corpus}}/tables/table1.html",
            caption="../report/table1.rst",
            category="Tables",
        ),
        provenance=f"{RESULTS}/{{corpus}}/tables/table1.json",
    log:
        f"{RESULTS}/{{corpus}}/logs/table1.log",
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    params:
        corpus=lambda wildcards: wildcards.corpus,
    script:
        "../scripts/table1.py"
