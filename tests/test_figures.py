"""t-SNE figures: balanced deterministic subsamples, reproducible embeddings, files written."""

from __future__ import annotations

from collections import Counter

import numpy as np
from matplotlib.colors import to_rgb

from affectrep.data.emotions import CLASSES
from affectrep.protocol.figures import (
    EMOTION_COLOURS,
    model_title,
    plot_composite,
    plot_panels,
    save_figure,
    stratified_subsample,
    tsne_embedding,
)


def _labels(counts: dict[str, int], seed: int = 0) -> list[str]:
    labels = [name for name, count in counts.items() for _ in range(count)]
    return list(np.random.default_rng(seed).permutation(labels))


def test_subsample_is_balanced_and_deterministic():
    labels = _labels(
        {"neutral": 500, "anger": 120, "sadness": 30, "happiness": 300, "": 200, "frustration": 50}
    )
    chosen = stratified_subsample(labels, 200, seed=3)
    counts = Counter(labels[i] for i in chosen)
    # Sadness gives all 30; the other three share the remaining 170 as equally as possible.
    assert len(chosen) == 200 and counts["sadness"] == 30
    assert sorted(counts[c] for c in ("neutral", "anger", "happiness")) in (
        [56, 57, 57],
        [56, 56, 58],
    )
    assert set(counts) <= set(CLASSES) and len(set(chosen.tolist())) == 200
    np.testing.assert_array_equal(chosen, stratified_subsample(labels, 200, seed=3))
    assert not np.array_equal(chosen, stratified_subsample(labels, 200, seed=4))
    # Asking for more than there is gives every labelled point once.
    assert len(stratified_subsample(labels, 10_000, seed=0)) == 950


def test_tsne_is_deterministic_and_handles_tiny_inputs():
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(size=(40, 5)), rng.normal(size=(40, 5)) + 8])
    first = tsne_embedding(points, seed=1, perplexity=10)
    assert first.shape == (80, 2) and np.all(np.isfinite(first))
    np.testing.assert_array_equal(first, tsne_embedding(points, seed=1, perplexity=10))
    # The two blobs stay apart in the embedding.
    gap = np.linalg.norm(first[:40].mean(0) - first[40:].mean(0))
    assert gap > 2 * first[:40].std(0).max()
    tiny = tsne_embedding(points[:8], seed=0)  # perplexity 30 is too high for 8 points
    assert tiny.shape == (8, 2) and np.all(np.isfinite(tiny))
    assert tsne_embedding(points[:2], seed=0).shape == (2, 2)


def test_model_titles_follow_the_paper():
    assert model_title("tied-fft128-c5") == "TIED-128-5"
    assert model_title("deep-logmel40-c5") == "DEEP-MEL-5"
    assert model_title("tied-fft513-c1") == "TIED-513-1"
    assert model_title("untied-fft128-c1") == "UNTIED-128-1"
    assert model_title("TIED-128-5") == "TIED-128-5"


def _set(n: int, seed: int):
    rng = np.random.default_rng(seed)
    emotions = [CLASSES[i % 4] for i in range(n)]
    activation = list(rng.uniform(1, 5, n))
    valence = [None if i % 6 == 0 else float(v) for i, v in enumerate(rng.uniform(1, 5, n))]
    return rng.normal(size=(n, 2)), emotions, activation, valence


def test_figures_are_written_as_png_and_pdf(tmp_path):
    emb, emotions, activation, valence = _set(60, 0)
    panels = plot_panels(emb, emotions, activation, valence, "TIED-128-5")
    assert len(panels.axes) == 5  # three panels and two colour bars
    written = save_figure(panels, tmp_path / "panels")
    # A path given with a suffix writes the same pair, not "panels.png.png".
    assert save_figure(panels, tmp_path / "panels.png") == written
    assert [p.name for p in written] == ["panels.png", "panels.pdf"]
    composite = plot_composite(
        {
            m: _set(50, k)
            for k, m in enumerate(["deep-logmel40-c5", "tied-fft128-c5", "tied-fft513-c1"])
        },
        "Utterance level",
    )
    titles = [ax.get_title() for ax in composite.axes if ax.get_title()]
    assert titles[0] == "(a) Emotion : DEEP-MEL-5" and titles[-1] == "(i) Valence : TIED-513-1"
    assert len(titles) == 9
    paths = save_figure(composite, tmp_path / "figure2", formats=("png", "pdf"))
    for path in written + paths:
        assert path.stat().st_size > 1000
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths[1].read_bytes()[:5] == b"%PDF-"
    assert not list(tmp_path.glob("*.tmp-*"))


def test_emotion_colours_are_the_papers():
    """Captions: yellow sadness, red neutral, blue happiness, green anger."""
    rgb = {name: np.array(to_rgb(colour)) for name, colour in EMOTION_COLOURS.items()}
    assert set(rgb) == set(CLASSES)
    assert np.argmax(rgb["neutral"]) == 0 and np.argmax(rgb["anger"]) == 1
    assert np.argmax(rgb["happiness"]) == 2
    assert min(rgb["sadness"][:2]) > 0.7 and rgb["sadness"][2] < 0.3


def test_a_corpus_without_ratings_gets_the_emotion_row_only(tmp_path):
    """EmoDB has no activation or valence ratings: no grey panels with colour bars."""
    emb, emotions, _, _ = _set(40, 1)
    none = [None] * 40
    nan = np.full(40, np.nan)
    panels = plot_panels(emb, emotions, none, nan, "TIED-128-5")
    assert [ax.get_title() for ax in panels.axes] == ["Emotion : TIED-128-5"]
    assert "no activation or valence ratings" in panels.get_suptitle()
    composite = plot_composite(
        {m: (emb, emotions, none, nan) for m in ("deep-logmel40-c5", "tied-fft128-c5")},
        "Frame level",
    )
    titles = [ax.get_title() for ax in composite.axes]
    assert titles == ["(a) Emotion : DEEP-MEL-5", "(b) Emotion : TIED-128-5"]
    # One dimension rated, the other not: its row alone, lettered after the emotion row.
    emb2, emotions2, activation2, _ = _set(40, 2)
    mixed = plot_composite(
        {"tied-fft128-c5": (emb2, emotions2, activation2, none)}, "Utterance level"
    )
    assert [ax.get_title() for ax in mixed.axes if ax.get_title()] == [
        "(a) Emotion : TIED-128-5",
        "(b) Activation : TIED-128-5",
    ]
    assert "no valence ratings" in mixed.get_suptitle()
    for path in save_figure(composite, tmp_path / "figure1"):
        assert path.stat().st_size > 1000
