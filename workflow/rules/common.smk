"""Config helpers and input functions shared by the stage files."""

from affectrep.config import (
    audio_policy,
    corpus_root,
    model_widths,
    spectrogram_spec,
    train_settings,
)

RESULTS = "results"


wildcard_constraints:
    corpus="[A-Za-z0-9][A-Za-z0-9_-]*",
    spec="[A-Za-z0-9]+",


def corpus_settings(wildcards):
    return config["corpora"][wildcards.corpus]


def corpus_inputs(wildcards):
    """A demo corpus depends on the rule that generates it; a real one on nothing."""
    if "demo" in corpus_settings(wildcards):
        return {"audio": f"{RESULTS}/{wildcards.corpus}/audio"}
    return {}


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
    ]


def features_of(corpus, spec):
    directory = f"{RESULTS}/{corpus}/features/{spec}"
    return {name: f"{directory}/{name}.{ext}" for name, ext in
            (("frames", "npy"), ("index", "tsv"), ("stats", "npz"))}


def model_spec(model):
    """`tied-fft128-c5` -> `fft128`."""
    return model.split("-")[1]


def model_features(wildcards):
    model = getattr(wildcards, "stacked", None) or getattr(wildcards, "deep", None)
    model = model or wildcards.model
    return features_of(wildcards.corpus, model_spec(model))


def lower_layers(wildcards):
    """The frozen layers below layer k of a greedy stack."""
    return [
        f"{RESULTS}/{wildcards.corpus}/models/{wildcards.stacked}/layer{k}.npz"
        for k in range(1, int(wildcards.layer))
    ]


def stack_layers(wildcards):
    n_layers = len(model_widths(config, wildcards.stacked)) - 1
    return [
        f"{RESULTS}/{wildcards.corpus}/models/{wildcards.stacked}/layer{k}.npz"
        for k in range(1, n_layers + 1)
    ]


def table1_inputs(wildcards):
    """Validation results in the paper's row order: baselines after the models of their
    spectrogram."""
    models = [f"{RESULTS}/{wildcards.corpus}/validation/{m}.json"
              for m in config["autoencoders"]["models"]]
    baselines = [f"{RESULTS}/{wildcards.corpus}/validation/softmax-{s}-c1.json"
                 for s in config["validation"]["baselines"]]
    return models + baselines


def all_targets():
    return [target for corpus in config["run"] for target in corpus_targets(corpus)]
