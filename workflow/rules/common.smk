"""Config helpers and input functions shared by the stage files."""

import re
from types import SimpleNamespace

from affectrep.config import (
    COMBINED_CORPUS,
    audio_policy,
    code_widths,
    corpus_root,
    external_vectors,
    mlp_settings,
    model_widths,
    spectrogram_spec,
    train_settings,
    table2_parts as config_table2_parts,
    uses_masked as config_uses_masked,
)
from affectrep.data.egemaps import FUNCTIONAL_SETS
from affectrep.provenance import plain

RESULTS = "results"


wildcard_constraints:
    corpus="[A-Za-z0-9][A-Za-z0-9_-]*",
    spec="[A-Za-z0-9]+",


# The rules that read a corpus match only the configured ones (results/all-corpora/ is made
# by joining them, rules combine_*).
CONFIGURED_CORPUS = "|".join(re.escape(name) for name in config["corpora"])


def corpus_settings(wildcards):
    return config["corpora"][wildcards.corpus]


def corpus_params(wildcards):
    """The corpus entry's keys that its reader reads (no IEMOCAP keys for a table corpus),
    as a plain param: what the manifest's record and the report show."""
    from affectrep.data.corpora.build import reader_settings

    return plain(reader_settings(corpus_settings(wildcards)))


def corpus_inputs(wildcards):
    """A demo corpus depends on the rule that generates it; a real one on nothing."""
    if "demo" in corpus_settings(wildcards):
        return {"audio": f"{RESULTS}/{wildcards.corpus}/audio"}
    return {}


def device_memory(wildcards, input):
    """MB a training or encoding job needs: its frames (or codes) on the device, held whole,
    plus JAX, the program and one block being read (bench/scale.py measured 0.4 GB above the
    frames at 1, 3 and 12 hours of audio; 1.2 GB leaves room)."""
    return int(1200 + 1.1 * input.size_mb)


def spectrogram_names():
    return list(config["features"]["spectrograms"])


def corpus_targets(corpus):
    """Every output of the stages so far, for one corpus."""
    return [
        f"{RESULTS}/{corpus}/manifest.tsv",
        f"{RESULTS}/{corpus}/rejected.tsv",
        *(
            f"{RESULTS}/{corpus}/features/{spec}/{name}"
            for spec in spectrogram_names()
            for name in ("frames.npy", "index.tsv", "stats.npz")
        ),
        f"{RESULTS}/{corpus}/tables/table1.md",
        f"{RESULTS}/{corpus}/tables/table2.md",
        f"{RESULTS}/{corpus}/folds/folds.tsv",
        f"{RESULTS}/{corpus}/tables/separation.md",
        f"{RESULTS}/{corpus}/figures/figure1.png",
        f"{RESULTS}/{corpus}/figures/figure2.png",
        f"{RESULTS}/{corpus}/tables/dimensional.md",
        *(f"{RESULTS}/{corpus}/export/{model}/bundle.json" for model in config["use"]["export"]),
        f"{RESULTS}/{corpus}/report.md",
    ]


def features_of(corpus, spec):
    directory = f"{RESULTS}/{corpus}/features/{spec}"
    return {
        name: f"{directory}/{name}.{ext}"
        for name, ext in (("frames", "npy"), ("index", "tsv"), ("stats", "npz"))
    }


def model_spec(model):
    """`tied-fft128-c5` -> `fft128`."""
    return model.split("-")[1]


def model_features(wildcards):
    model = getattr(wildcards, "stacked", None) or getattr(wildcards, "deep", None)
    model = model or wildcards.model
    return features_of(wildcards.corpus, model_spec(model))


def excluded_session(wildcards):
    """The session a strict per-fold pretraining leaves out (`-without-Ses01`), or None."""
    scope = wildcards.get("without", "")
    return scope.removeprefix("-without-") if scope.startswith("-without-") else None


def lower_layers(wildcards):
    """The frozen layers below layer k of a greedy stack."""
    return [
        f"{RESULTS}/{wildcards.corpus}/models{wildcards.without}/{wildcards.stacked}/layer{k}.npz"
        for k in range(1, int(wildcards.layer))
    ]


def stack_layers(wildcards):
    n_layers = len(model_widths(config, wildcards.stacked)) - 1
    return [
        f"{RESULTS}/{wildcards.corpus}/models{wildcards.without}/{wildcards.stacked}/layer{k}.npz"
        for k in range(1, n_layers + 1)
    ]


def table1_inputs(wildcards):
    """Validation results in the paper's row order: baselines after the models of their
    spectrogram."""
    models = [
        f"{RESULTS}/{wildcards.corpus}/validation/{m}.json"
        for m in config["autoencoders"]["models"]
    ]
    baselines = [
        f"{RESULTS}/{wildcards.corpus}/validation/softmax-{s}-c1.json"
        for s in config["validation"]["baselines"]
    ]
    return models + baselines


def all_targets():
    targets = [target for corpus in config["run"] for target in corpus_targets(corpus)]
    if has_cross_corpus_matrix():
        targets.append(f"{RESULTS}/cross_corpus/{config['classification']['encoder']}.md")
    return targets


def has_cross_corpus_matrix(corpus=None):
    """Whether there is a cross-corpus matrix (and `corpus` is one of its corpora): with one
    corpus it would be a single cell, the model card's own number, so it is left out."""
    corpora = cross_corpora()
    return len(corpora) > 1 and (corpus is None or corpus in corpora)


def cross_corpus_table(wildcards):
    """The cross-corpus matrix when there is one and this corpus is one of its corpora."""
    if not has_cross_corpus_matrix(wildcards.corpus):
        return []
    return [f"{RESULTS}/cross_corpus/{config['classification']['encoder']}.md"]


# --- classification (Table 2) -----------------------------------------------------------------


# Vectors computed elsewhere (`classification.vectors`): name -> {path, ids}. Each is one more
# Table 2 column (after the configured methods) and one more row of the dimensional table.
EXTERNAL = external_vectors(config)


def table2_methods():
    """Table 2's columns, in order: the configured methods, then the external vectors."""
    return [*config["classification"]["methods"], *EXTERNAL]


def vector_pretraining(method):
    """The pretraining a vector column's run records: the hand-crafted functionals have none,
    external vectors were made outside the workflow (on data it does not know), the BLSTM
    vectors follow `classification.pretraining`."""
    from affectrep.protocol.table2 import EXTERNAL as EXTERNAL_KIND
    from affectrep.protocol.table2 import HANDCRAFTED, method_kind

    kind = method_kind(method, external_methods())
    if kind == HANDCRAFTED:
        return "none"
    if kind == EXTERNAL_KIND:
        return "external"
    return config["classification"]["pretraining"]


def classification_encoder():
    from affectrep.model_id import ModelId

    return ModelId.parse(config["classification"]["encoder"])


def method_titles():
    from affectrep.protocol.table2 import method_title
    from affectrep.protocol.figures import model_title

    encoder = model_title(config["classification"]["encoder"])
    layer = config["representations"]["code_layer"]
    return {m: method_title(m, encoder, layer) for m in table2_methods()}


def external_methods():
    """Table 2 columns that are neither learned here nor hand-crafted (vectors of an outside
    model, `classification.vectors`): the paired statistics count them as neither."""
    return list(EXTERNAL)


def paired_settings():
    """The bootstrap of Table 2's paired comparison (`affectrep.protocol.paired`)."""
    from affectrep.protocol.paired import PairedSettings

    return PairedSettings()


def manifest_of(corpus):
    """The manifest, once rule `corpus` (a checkpoint) has written it."""
    return checkpoints.corpus.get(corpus=corpus).output.manifest


def scope_of(wildcards):
    """`` (pretraining on every utterance), `-from-all-corpora` (on every corpus at once) or
    `-without-<session>` (strict, per fold)."""
    policy = config["classification"]["pretraining"]
    if policy == "all" or (policy == "corpora" and len(cross_corpora()) < 2):
        return ""
    if policy == "corpora":
        return f"-from-{COMBINED_CORPUS}"
    from affectrep.protocol.folds import fold_sessions

    return f"-without-{fold_sessions(manifest_of(wildcards.corpus))[wildcards.fold]}"


def mlp_frame_inputs(wildcards):
    """The frames every run of an MLP reads, and the manifest."""
    return {
        **features_of(wildcards.corpus, classification_encoder().spec),
        "manifest": manifest_of(wildcards.corpus),
    }


def mlp_fold_inputs(wildcards):
    encoder = classification_encoder()
    inputs = mlp_frame_inputs(wildcards)
    if wildcards.mlp_method == "pretrained-mlp":
        scope = scope_of(wildcards)
        owner, scope = (
            (COMBINED_CORPUS, "") if scope.startswith("-from-") else (wildcards.corpus, scope)
        )
        inputs["encoder"] = f"{RESULTS}/{owner}/models{scope}/{encoder}/encoder.npz"
    return inputs


MLP_METHODS = ("pretrained-mlp", "mlp")


def vector_methods():
    """The Table 2 methods that classify utterance vectors (a fused one: `a+b`; external
    vectors too)."""
    return [m for m in table2_methods() if m not in MLP_METHODS]


def vector_method_pattern():
    """The `vector_method` wildcard: exactly the configured vector methods."""
    import re

    return "|".join(re.escape(m) for m in vector_methods()) or "(?!)"


def vector_stem(corpus, part, wildcards):
    """Where the utterance vectors of one vector method (`egemaps`, `compare`, `blstm`,
    `pooled`, `masked`) are, without the .npy/.tsv suffix."""
    if part in FUNCTIONAL_SETS:
        return f"{RESULTS}/{corpus}/{part}/functionals"
    if part == "masked":
        return f"{RESULTS}/{corpus}/masked{scope_of(wildcards)}/vectors"
    folder = {"blstm": "utterances", "pooled": "pooled"}[part]
    return f"{RESULTS}/{corpus}/{folder}{scope_of(wildcards)}/{classification_encoder()}"


def vector_fold_inputs(wildcards):
    corpus = wildcards.corpus
    method = wildcards.vector_method
    if method in EXTERNAL:
        # Declared as inputs: replacing either file reruns the column.
        files = EXTERNAL[method]
        return {"vectors": files["path"], "ids": files["ids"], "manifest": manifest_of(corpus)}
    stems = [vector_stem(corpus, part, wildcards) for part in method.split("+")]
    return {
        "vectors": [f"{stem}.npy" for stem in stems],
        "ids": [f"{stem}.tsv" for stem in stems],
        "manifest": manifest_of(corpus),
    }


def fold_jobs_of(wildcards):
    """The runs of every fold of a method's job, as `fold_mlp` and `fold_vectors` jobs
    would see them: fold name -> wildcards with that fold."""
    from affectrep.protocol.folds import fold_names

    return {
        name: SimpleNamespace(**dict(wildcards.items()), fold=name)
        for name in fold_names(manifest_of(wildcards.corpus))
    }


def mlp_encoders(wildcards):
    """fold -> the encoder its pretrained MLP starts from (None for the MLP without)."""
    if wildcards.mlp_method != "pretrained-mlp":
        return None
    return {
        name: mlp_fold_inputs(fold)["encoder"] for name, fold in fold_jobs_of(wildcards).items()
    }


def mlp_runs_inputs(wildcards):
    inputs = mlp_frame_inputs(wildcards)
    encoders = mlp_encoders(wildcards)
    if encoders:
        inputs["encoders"] = sorted(set(encoders.values()))
    return inputs


def vector_sources(wildcards):
    """fold -> {vectors, ids}: the files each run of a vector column reads."""
    sources = {}
    for name, fold in fold_jobs_of(wildcards).items():
        inputs = vector_fold_inputs(fold)
        sources[name] = {"vectors": inputs["vectors"], "ids": inputs["ids"]}
    return sources


def vector_runs_inputs(wildcards):
    files = {
        path
        for source in vector_sources(wildcards).values()
        for key in ("vectors", "ids")
        for path in ([source[key]] if isinstance(source[key], str) else source[key])
    }
    return {"vectors": sorted(files), "manifest": manifest_of(wildcards.corpus)}


def table2_inputs(wildcards):
    """Each method's runs: its `runs.json` (`classification.fold_jobs: method`) or one file
    per fold (`fold`)."""
    from affectrep.protocol.folds import fold_names

    folder = f"{RESULTS}/{wildcards.corpus}/folds"
    if config["classification"]["fold_jobs"] == "method":
        return {m.replace("-", "_"): [f"{folder}/{m}/runs.json"] for m in table2_methods()}
    names = fold_names(manifest_of(wildcards.corpus))
    return {
        m.replace("-", "_"): [f"{folder}/{m}/{name}.json" for name in names]
        for m in table2_methods()
    }


# --- the masked spectrogram model (Table 2's `masked` column) --------------------------------


def uses_masked():
    """Whether a Table 2 column (alone or fused) is the masked spectrogram model's."""
    return config_uses_masked(config)


def masked_features(wildcards):
    """The spectrogram frames the masked model reads (`representations.masked.spectrogram`)."""
    return features_of(wildcards.corpus, config["representations"]["masked"]["spectrogram"])


def masked_model(wildcards):
    """The model whose outputs a corpus's masked vectors are: its own (`masked/`, or
    `masked-without-<session>/`), or the one pretrained on every corpus (`-from-<source>`)."""
    scope = wildcards.scope
    if scope.startswith("-from-"):
        return f"{RESULTS}/{scope.removeprefix('-from-')}/masked/model.npz"
    return f"{RESULTS}/{wildcards.corpus}/masked{scope}/model.npz"


# --- representations (Figures 1 and 2) --------------------------------------------------------

LEVEL_OF_FIGURE = {"1": "frames", "2": "utterances"}
FIGURE_TITLES = {
    "1": "Figure 1: frame-level {codes} (t-SNE), corpus {corpus}",
    "2": "Figure 2: BLSTM utterance representations (t-SNE), corpus {corpus}",
}


def figure_title(number, corpus):
    """Figure 1 or 2's title; Figure 1 says which encoder layer its codes come from."""
    layer = config["representations"]["code_layer"]
    codes = f"layer-{layer} codes" if layer else "bottleneck codes"
    return FIGURE_TITLES[number].format(codes=codes, corpus=corpus)


def tsne_title(model, level):
    """A t-SNE row's title: the model, the encoder layer of its codes unless it is the
    bottleneck, and the level."""
    from affectrep.protocol.table2 import codes_title

    return f"{codes_title(model_title(model), config['representations']['code_layer'])}, {level}"


def model_title(model):
    from affectrep.protocol.figures import model_title as title

    return title(model)


def points_paths(corpus, model, level):
    """Frame codes and their feature index, or utterance vectors and their ids."""
    if level == "frames":
        return {
            "vectors": f"{RESULTS}/{corpus}/codes/{model}.npy",
            "ids": features_of(corpus, model_spec(model))["index"],
        }
    return {
        "vectors": f"{RESULTS}/{corpus}/utterances/{model}.npy",
        "ids": f"{RESULTS}/{corpus}/utterances/{model}.tsv",
    }


def points_of(wildcards):
    return points_paths(wildcards.corpus, wildcards.model, wildcards.level)


def separation_sources(wildcards):
    """(level, model) of every row of the separation table, in order."""
    return [
        (level, model)
        for level in ("frames", "utterances")
        for model in config["representations"]["models"]
    ]


def separation_inputs(wildcards):
    inputs = {}
    for level, model in separation_sources(wildcards):
        found = points_paths(wildcards.corpus, model, level)
        key = f"{level}_{model}".replace("-", "_")
        inputs[f"{key}_vectors"] = found["vectors"]
        inputs[f"{key}_ids"] = found["ids"]
    return inputs


def training_curves_inputs(wildcards):
    """The Table 2 encoder's trained files in the corpus's own `models/` (pretraining on
    every utterance): its greedy layers (none for a deep model), its encoder (fine-tuning or
    joint training) and its BLSTM autoencoder, and the masked spectrogram model when Table 2
    has its column; their metadata hold the loss per epoch."""
    encoder = classification_encoder()
    folder = f"{RESULTS}/{wildcards.corpus}/models/{encoder}"
    n_layers = len(model_widths(config, str(encoder))) - 1 if encoder.stacked else 0
    return {
        "layers": [f"{folder}/layer{k}.npz" for k in range(1, n_layers + 1)],
        "encoder": f"{folder}/encoder.npz",
        "blstm": f"{folder}/blstm.npz",
        "masked": [f"{RESULTS}/{wildcards.corpus}/masked/model.npz"] if uses_masked() else [],
    }


def report_figures(wildcards):
    corpus = wildcards.corpus
    return [
        f"{RESULTS}/{corpus}/figures/figure1.png",
        f"{RESULTS}/{corpus}/figures/figure2.png",
        f"{RESULTS}/{corpus}/figures/training_curves.png",
        *(f"{RESULTS}/{corpus}/figures/confusion_{m}.png" for m in table2_methods()),
        f"{RESULTS}/{corpus}/figures/dimensional.png",
        *(
            f"{RESULTS}/cross_corpus/{config['classification']['encoder']}.png"
            for _ in [0]
            if has_cross_corpus_matrix(corpus)
        ),
    ]


# --- use: dimensional affect, bundles, cross-corpus -------------------------------------------

# The dimensional table's rows: the workflow's own representations, then the external vectors.
# The openSMILE sets only where a Table 2 column uses them: ComParE costs about 10 minutes
# per 12 hours of audio, not to be spent on a row nobody asked for.
DIMENSIONAL_SOURCES = (
    "pooled",
    "blstm",
    *(["masked"] if uses_masked() else []),
    *(name for name in FUNCTIONAL_SETS if name in config_table2_parts(config)),
    *EXTERNAL,
)


def dimensional_titles():
    from affectrep.protocol.figures import model_title
    from affectrep.protocol.table2 import codes_title

    codes = codes_title(
        model_title(config["classification"]["encoder"]), config["representations"]["code_layer"]
    )
    return {
        "pooled": f"{codes} codes, pooled statistics",
        "blstm": f"BLSTM on {codes} codes",
        "masked": "masked spectrogram model, pooled statistics",
        "egemaps": "eGeMAPS functionals",
        "compare": "ComParE 2016 functionals",
        **{name: f"{name} (external vectors)" for name in EXTERNAL},
    }


def dimensional_sources(wildcards):
    """source -> fold -> (vectors, ids) that fold's regression uses."""
    from affectrep.protocol.folds import fold_names

    corpus = wildcards.corpus
    out = {}
    for source in DIMENSIONAL_SOURCES:
        out[source] = {}
        for fold in fold_names(manifest_of(corpus)):
            if source in EXTERNAL:
                out[source][fold] = (EXTERNAL[source]["path"], EXTERNAL[source]["ids"])
                continue
            stem = vector_stem(corpus, source, SimpleNamespace(corpus=corpus, fold=fold))
            out[source][fold] = (f"{stem}.npy", f"{stem}.tsv")
    return out


def dimensional_inputs(wildcards):
    files = {
        path
        for per_fold in dimensional_sources(wildcards).values()
        for pair in per_fold.values()
        for path in pair
    }
    return {"manifest": manifest_of(wildcards.corpus), "vectors": sorted(files)}


def cross_corpora():
    return config["use"]["cross_corpus"] or list(config["run"])


COMBINED = COMBINED_CORPUS  # pretraining on every corpus of the matrix at once


def cross_corpus_pooled(wildcards):
    """[A, B, vectors, ids]: B's pooled codes under the encoder pretrained on A (A may be
    COMBINED: pretrained on all of them, when there are several)."""
    pairs = []
    sources = cross_corpora() + ([COMBINED] if len(cross_corpora()) > 1 else [])
    for a in sources:
        for b in cross_corpora():
            stem = f"{RESULTS}/{b}/pooled{'' if a == b else f'-from-{a}'}/{wildcards.model}"
            pairs.append([a, b, f"{stem}.npy", f"{stem}.tsv"])
    return pairs


def cross_corpus_manifests(wildcards):
    return {corpus: str(manifest_of(corpus)) for corpus in cross_corpora()}


def cross_corpus_inputs(wildcards):
    files = [path for pair in cross_corpus_pooled(wildcards) for path in pair[2:]]
    return {"vectors": files, "manifests": list(cross_corpus_manifests(wildcards).values())}
