"""The demo corpus: deterministic, in IEMOCAP's layout and label format, acoustically sensible."""

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from affectrep.data.corpora.iemocap import majority_category, mean_ratings, parse_emo_evaluation
from affectrep.data.demo import CATEGORIES, DemoSpec, write_demo_corpus

TINY = DemoSpec(seed=7, sessions=2, utterances_per_speaker=10)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    summary = write_demo_corpus(root, TINY)
    return root, summary


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_the_same_seed_writes_the_same_bytes(corpus, tmp_path):
    root, _ = corpus
    again = tmp_path / "again"
    write_demo_corpus(again, TINY, workers=2)  # in parallel processes: still the same bytes
    assert _files(again) == _files(root)
    other = tmp_path / "other"
    write_demo_corpus(other, DemoSpec(seed=8, sessions=1, utterances_per_speaker=2))
    first = sorted(other.rglob("*.wav"))[0]
    assert first.read_bytes() != (root / first.relative_to(other)).read_bytes()


def test_layout_and_audio_format(corpus):
    root, summary = corpus
    wavs = sorted(root.glob("Session*/sentences/wav/*/*.wav"))
    assert len(wavs) == summary.n_utterances == 2 * 2 * 10
    assert {p.parts[-5] for p in wavs} == {"Session1", "Session2"}
    for wav in wavs[:6]:
        info = sf.info(wav)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert 1.2 < info.duration < 5.0
        assert re.fullmatch(r"Ses0[12][FM]_(impro\d\d|script\d\d_1)_[FM]\d{3}", wav.stem)
        assert wav.parent.name == wav.stem.rsplit("_", 1)[0]
        signal, _ = sf.read(wav)
        edge, middle = signal[:1600], signal[len(signal) // 3 : 2 * len(signal) // 3]
        assert 0 < np.sqrt(np.mean(edge**2)) < 0.05 * np.sqrt(np.mean(middle**2))


def test_every_wav_has_exactly_one_label_record(corpus):
    root, _ = corpus
    wav_ids = {p.stem for p in root.glob("Session*/sentences/wav/*/*.wav")}
    record_ids: list[str] = []
    summary_line = re.compile(
        r"^\[\d+\.\d{4} - \d+\.\d{4}\]\t\S+\t[a-z]{3}\t\[\d\.\d{4}, \d\.\d{4}, \d\.\d{4}\]$"
    )
    for text_file in root.glob("Session*/dialog/EmoEvaluation/*.txt"):
        text = text_file.read_text()
        assert text.startswith("% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n")
        for line in text.splitlines():
            if line.startswith("["):
                assert summary_line.match(line), line
            elif line.startswith("C-"):
                assert re.fullmatch(r"C-E\d:\t([A-Z][a-z]+; ?)+\t\(\)", line), line
            elif line.startswith("A-"):
                assert re.fullmatch(r"A-E\d:\tval [1-5]; act [1-5]; dom  [1-5];\t\(\)", line)
        for record in parse_emo_evaluation(text, str(text_file)):
            record_ids.append(record.utterance_id)
            assert len(record.categories) == len(record.ratings) == 3
            category, agreement, _ = majority_category(record)
            abbreviation = {name: abbrev for name, (abbrev, *_rest) in CATEGORIES.items()}
            expected = abbreviation[category] if category and agreement >= 2 else "xxx"
            assert record.summary_label == expected
            means = mean_ratings(record)
            assert record.summary_vad == pytest.approx(
                (means["val"], means["act"], means["dom"]), abs=1e-4
            )
    assert sorted(record_ids) == sorted(wav_ids)


def test_emotions_sound_different(tmp_path):
    """Over a corpus of some size, anger is louder and higher than sadness."""
    root = tmp_path / "bigger"
    write_demo_corpus(root, DemoSpec(seed=1, sessions=2, utterances_per_speaker=24))
    rms: dict[str, list[float]] = {"anger": [], "sadness": []}
    centroid: dict[str, list[float]] = {"anger": [], "sadness": []}
    for text_file in root.glob("Session*/dialog/EmoEvaluation/*.txt"):
        for record in parse_emo_evaluation(text_file.read_text()):
            category, agreement, _ = majority_category(record)
            if category not in rms or agreement < 2:
                continue
            dialog = record.utterance_id.rsplit("_", 1)[0]
            wav = text_file.parents[2] / "sentences" / "wav" / dialog / f"{record.utterance_id}.wav"
            signal, rate = sf.read(wav)
            rms[category].append(float(np.sqrt(np.mean(signal**2))))
            spectrum = np.abs(np.fft.rfft(signal))
            freqs = np.fft.rfftfreq(signal.size, 1 / rate)
            centroid[category].append(float((spectrum * freqs).sum() / spectrum.sum()))
    assert min(len(v) for v in rms.values()) >= 5
    assert np.mean(rms["anger"]) > 2 * np.mean(rms["sadness"])
    assert np.mean(centroid["anger"]) > np.mean(centroid["sadness"])


def test_bad_spec_is_refused():
    with pytest.raises(ValueError, match="sessions must be 1..5"):
        DemoSpec(sessions=6)


def test_a_corpus_is_sized_in_hours_or_in_utterances_not_both():
    iemocap_size = DemoSpec.from_config({"seed": 0, "sessions": 5, "hours": 12})
    assert iemocap_size.utterances_per_speaker == round(12 * 3600 / 2.7 / 10)
    assert DemoSpec.from_config({"sessions": 2}).utterances_per_speaker == 40
    with pytest.raises(ValueError, match="not both"):
        DemoSpec.from_config({"hours": 1, "utterances_per_speaker": 5})
