"""Config helpers and input functions shared by the stage files."""

from affectrep.config import audio_policy, corpus_root, spectrogram_spec

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
    ]


def all_targets():
    return [target for corpus in config["run"] for target in corpus_targets(corpus)]
