# The run report (results/{corpus}/report.md); `snakemake --report report.html` builds the
# HTML report from the outputs flagged with report() and the captions in workflow/report/.
# That report shows images, HTML and PDF inline and every other file only as a download, so
# each Markdown table, model card and report.md has an HTML twin (`affectrep.html`) beside
# it, and the twins are what is flagged.


rule report:
    """report.md: corpus, sizes, settings, versions, wall times, tables, figures, rejections."""
    input:
        manifest=f"{RESULTS}/{{corpus}}/manifest.tsv",
        summary=f"{RESULTS}/{{corpus}}/corpus_summary.txt",
        rejected=f"{RESULTS}/{{corpus}}/rejected.tsv",
        table1=f"{RESULTS}/{{corpus}}/tables/table1.md",
        table2=f"{RESULTS}/{{corpus}}/tables/table2.md",
        paired=f"{RESULTS}/{{corpus}}/tables/table2_paired.json",
        separation=f"{RESULTS}/{{corpus}}/tables/separation.md",
        dimensional=f"{RESULTS}/{{corpus}}/tables/dimensional.md",
        cross_corpus=cross_corpus_table,
        cards=lambda wildcards: [
            f"{RESULTS}/{wildcards.corpus}/export/{m}/MODEL_CARD.md"
            for m in config["use"]["export"]
        ],
        figures=report_figures,
    output:
        report=f"{RESULTS}/{{corpus}}/report.md",
        html=report(
            f"{RESULTS}/{{corpus}}/report.html",
            caption="../report/report.rst",
            category="Report",
        ),
    log:
        f"{RESULTS}/{{corpus}}/logs/report.log",
    conda:
        "../../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    params:
        corpus=lambda wildcards: wildcards.corpus,
        rules=[rule.name for rule in workflow.rules],
        cross_corpora=plain(cross_corpora()),
    script:
        "../scripts/report.py"
