"""The embedded default corpus: synthetic emotional speech in IEMOCAP's release layout.

No download, deterministic from a seed, and written exactly as IEMOCAP is::

    <root>/Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav   (16 kHz, 16-bit)
    <root>/Session1/dialog/EmoEvaluation/Ses01F_impro01.txt

so that every default run exercises the real IEMOCAP reader. The audio is made by a
source-filter model, vectorised over samples (a loop only per utterance and per syllable):

- glottal source: harmonics of an F0 contour with a spectral-tilt roll-off, jitter (F0
  perturbation), shimmer (amplitude perturbation) and breathiness (aspiration noise);
- vocal tract: formant resonances of vowel-like syllables, interpolated between syllables,
  evaluated at the harmonic frequencies; unvoiced consonant noise between vowels;
- silence (a -60 dBFS noise floor, never digital zeros) before and after speech.

Emotions act on the acoustics the way acted speech does, through each utterance's latent
activation and valence: activation raises F0, F0 range, loudness, speaking rate and
high-frequency energy (flatter tilt); low activation brings breathiness and jitter; positive
valence widens the F0 range with rising accents, negative valence lowers and flattens it.
Speakers differ in F0 and vocal-tract length. Each utterance has its own intensity, so that
classes overlap and a speaker-independent classifier is well above chance but not perfect.
Three annotators label each utterance, sometimes wrongly or with two categories, and rate
valence, activation and dominance from 1 to 5, as in IEMOCAP.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, lfilter

from affectrep.defaults import default

SAMPLE_RATE = 16_000
_BLOCK = 80  # samples per control block (5 ms)
_UTTERANCES_PER_DIALOG = 8  # per speaker
# Mean utterance length of the generated speech (measured: 1,084.7 s over 400 utterances),
# used to size a corpus in hours; IEMOCAP's is about 4.5 s over 10,039 turns (12.4 h).
MEAN_UTTERANCE_S = 2.7

# category -> (IEMOCAP abbreviation, IEMOCAP's name in C- lines, activation, valence, share)
CATEGORIES: dict[str, tuple[str, str, float, float, float]] = {
    "neutral": ("neu", "Neutral", 2.6, 3.0, 0.22),
    "anger": ("ang", "Anger", 4.3, 1.6, 0.18),
    "sadness": ("sad", "Sadness", 1.7, 1.8, 0.18),
    "happiness": ("hap", "Happiness", 3.6, 4.3, 0.18),
    "frustration": ("fru", "Frustration", 3.3, 2.0, 0.10),
    "excited": ("exc", "Excited", 4.1, 4.0, 0.08),
    "surprise": ("sur", "Surprise", 3.9, 3.4, 0.03),
    "fear": ("fea", "Fear", 3.5, 1.9, 0.03),
}
# What an annotator may say instead of the true category.
CONFUSIONS: dict[str, tuple[str, ...]] = {
    "neutral": ("sadness", "frustration", "happiness"),
    "anger": ("frustration", "excited"),
    "sadness": ("neutral", "frustration"),
    "happiness": ("excited", "neutral"),
    "frustration": ("anger", "neutral", "sadness"),
    "excited": ("happiness", "surprise"),
    "surprise": ("excited", "happiness", "fear"),
    "fear": ("sadness", "surprise", "frustration"),
}
_ANNOTATOR_ACCURACY = 0.8
_SECOND_LABEL = 0.12
_RATING_NOISE = 0.6

# Formant frequencies (Hz) of an adult male vocal tract for five vowels; bandwidths (Hz).
_VOWELS = np.array(
    [
        [730, 1090, 2440, 3400],  # a
        [530, 1840, 2480, 3500],  # e
        [270, 2290, 3010, 3700],  # i
        [570, 840, 2410, 3300],  # o
        [300, 870, 2240, 3300],  # u
    ],
    dtype=np.float64,
)
_BANDWIDTHS = np.array([80.0, 100.0, 140.0, 200.0])


@dataclass(frozen=True)
class DemoSpec:
    """Size and seed of the demo corpus. `seed` and `sessions` default to the config
    schema's (`corpora.*.demo`); `utterances_per_speaker` has no default there, since a
    config gives it or `hours` (the schema's description names this one)."""

    seed: int = default("corpora.*.demo.seed")
    utterances_per_speaker: int = 40
    sessions: int = default("corpora.*.demo.sessions")
    sample_rate: int = SAMPLE_RATE

    @classmethod
    def from_config(cls, settings: Mapping) -> DemoSpec:
        """From a `corpora.<name>.demo` config entry: `hours` (about that much audio) or
        `utterances_per_speaker`, not both."""
        settings = dict(settings)
        hours = settings.pop("hours", None)
        if hours is not None:
            if "utterances_per_speaker" in settings:
                raise ValueError("demo: give `hours` or `utterances_per_speaker`, not both")
            speakers = 2 * settings.get("sessions", cls.sessions)
            settings["utterances_per_speaker"] = max(
                1, round(hours * 3600 / MEAN_UTTERANCE_S / speakers)
            )
        return cls(**settings)

    def __post_init__(self) -> None:
        if not 1 <= self.sessions <= 5:
            raise ValueError(f"sessions must be 1..5 (IEMOCAP has 5), not {self.sessions}")
        if self.utterances_per_speaker < 1:
            raise ValueError("utterances_per_speaker must be at least 1")


@dataclass
class DemoSummary:
    n_utterances: int = 0
    total_seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Speaker:
    session: int
    gender: str
    f0: float  # Hz, at neutral activation
    tract: float  # formant scaling (shorter vocal tract -> higher formants)
    tilt: float  # offset of the spectral tilt exponent
    breath: float  # baseline breathiness
    rate: float  # baseline syllables per second

    @property
    def name(self) -> str:
        return f"Ses{self.session:02d}{self.gender}"


@dataclass(frozen=True)
class _Utterance:
    category: str
    activation: float  # latent, 1..5
    valence: float  # latent, 1..5
    dominance: float


def _rng(spec: DemoSpec, *path: int) -> np.random.Generator:
    """A generator that depends only on the seed and the item's position in the corpus."""
    return np.random.default_rng(np.random.SeedSequence([spec.seed, *path]))


def _speaker(spec: DemoSpec, session: int, gender: str) -> _Speaker:
    rng = _rng(spec, session, 0 if gender == "F" else 1, 0)
    female = gender == "F"
    return _Speaker(
        session=session,
        gender=gender,
        f0=rng.uniform(185, 235) if female else rng.uniform(100, 135),
        tract=rng.uniform(1.13, 1.22) if female else rng.uniform(0.96, 1.04),
        tilt=rng.uniform(-0.15, 0.15),
        breath=rng.uniform(0.0, 0.04) + (0.02 if female else 0.0),
        rate=rng.uniform(3.6, 4.6),
    )


def _draw_utterance(rng: np.random.Generator) -> _Utterance:
    names = list(CATEGORIES)
    shares = np.array([CATEGORIES[n][4] for n in names])
    category = names[rng.choice(len(names), p=shares / shares.sum())]
    _, _, activation, valence, _ = CATEGORIES[category]
    # Intensity: how strongly this utterance shows its emotion (mild ones overlap neutral).
    intensity = rng.uniform(0.35, 1.15)
    act = float(np.clip(3.0 + (activation - 3.0) * intensity + rng.normal(0, 0.3), 1.0, 5.0))
    val = float(np.clip(3.0 + (valence - 3.0) * intensity + rng.normal(0, 0.3), 1.0, 5.0))
    dom = float(np.clip(0.6 * act + 0.2 * val + 0.6 + rng.normal(0, 0.3), 1.0, 5.0))
    return _Utterance(category, act, val, dom)


def _resonances(freqs: np.ndarray, formants: np.ndarray) -> np.ndarray:
    """Magnitude of a cascade of second-order resonators (unit gain at 0 Hz).

    freqs: (..., n_harmonics); formants: (..., 1, n_formants) broadcastable.
    """
    f = freqs[..., None]
    numerator = formants**2
    denominator = np.sqrt((formants**2 - f**2) ** 2 + (f * _BANDWIDTHS) ** 2)
    return np.prod(numerator / denominator, axis=-1)


def _smooth_noise(rng: np.random.Generator, n: int, every: int) -> np.ndarray:
    """Noise varying slowly: independent values every `every` samples, linearly joined."""
    knots = rng.standard_normal(n // every + 2)
    return np.interp(np.arange(n) / every, np.arange(knots.size), knots)


def synthesise(
    rng: np.random.Generator,
    speaker: _Speaker,
    utterance: _Utterance,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """One utterance's waveform, float32 in [-1, 1]."""
    act, val = utterance.activation, utterance.valence
    arousal = act - 3.0
    positive = max(val - 3.0, 0.0)
    negative = max(3.0 - val, 0.0)

    # Prosody from the latents.
    f0_mean = speaker.f0 * np.exp(0.16 * arousal - 0.03 * negative)
    f0_range = 1.5 + 1.1 * (act - 1.0) + 1.3 * positive - 0.4 * negative  # semitones
    rate = speaker.rate * np.exp(0.13 * arousal) * rng.uniform(0.9, 1.1)
    tilt = 1.35 - 0.22 * arousal - 0.08 * negative * (arousal > 0) + speaker.tilt
    breath = float(
        np.clip(speaker.breath + 0.05 * max(-arousal, 0.0) + rng.uniform(0, 0.02), 0.0, 0.35)
    )
    jitter = 0.004 + 0.006 * max(-arousal, 0.0) + 0.003 * negative * (arousal < 0)
    shimmer = 0.04 + 0.05 * max(-arousal, 0.0)
    level_db = float(np.clip(-7.0 + 4.0 * arousal + rng.normal(0, 1.0), -24.0, -1.0))

    # Syllables: a consonant part then a vowel part each.
    speech_s = rng.uniform(1.1, 3.0)
    n_syllables = max(2, int(round(speech_s * rate)))
    durations = rng.gamma(8.0, 1.0 / (8.0 * rate), n_syllables)
    consonant_share = rng.uniform(0.25, 0.4, n_syllables)
    lead, trail = rng.uniform(0.15, 0.5, 2)
    total_s = lead + durations.sum() + trail
    n = int(total_s * sample_rate)
    n_blocks = n // _BLOCK + 2
    block_t = np.arange(n_blocks) * _BLOCK / sample_rate

    starts = lead + np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    vowel_on = starts + consonant_share * durations
    ends = starts + durations
    vowel_mid = (vowel_on + ends) / 2

    # Voicing envelope per block: a raised cosine over each vowel, with per-syllable stress.
    stress = rng.uniform(0.55, 1.0, n_syllables) ** (1.0 - 0.3 * arousal / 2)
    voicing = np.zeros(n_blocks)
    frication = np.zeros(n_blocks)
    for s in range(n_syllables):
        inside = (block_t >= vowel_on[s]) & (block_t < ends[s])
        phase = (block_t[inside] - vowel_on[s]) / max(ends[s] - vowel_on[s], 1e-3)
        voicing[inside] = stress[s] * np.sin(np.pi * phase) ** 0.6
        consonant = (block_t >= starts[s]) & (block_t < vowel_on[s])
        frication[consonant] = rng.uniform(0.1, 0.35) * (1.0 + 0.3 * arousal / 2)
    phrase = np.clip(1.0 - 0.25 * (block_t - lead) / max(total_s - lead - trail, 1e-3), 0.6, 1)
    voicing *= phrase

    # F0 contour (block rate): declination, accents, emotion-specific ending, slow jitter.
    position = np.clip((block_t - lead) / max(total_s - lead - trail, 1e-3), 0.0, 1.0)
    semitones = -2.0 * position * (1.0 + 0.5 * negative)
    accented = rng.random(n_syllables) < 0.45
    for a in np.flatnonzero(accented):
        height = f0_range * rng.uniform(0.4, 1.0) * (1 if rng.random() < 0.8 else -0.5)
        semitones += height * np.exp(-0.5 * ((block_t - vowel_mid[a]) / 0.07) ** 2)
    semitones += (positive * 1.5 - negative * 1.0) * np.clip((position - 0.8) / 0.2, 0, 1)
    f0_blocks = f0_mean * 2.0 ** (semitones / 12.0)

    # Formants per block: vowel targets at syllable centres, linearly joined.
    vowels = rng.integers(0, len(_VOWELS), n_syllables)
    targets = _VOWELS[vowels] * speaker.tract
    targets[:, 0] *= 1.0 + 0.06 * arousal  # wider mouth opening when aroused
    formants = np.stack(
        [np.interp(block_t, vowel_mid, targets[:, k]) for k in range(targets.shape[1])], axis=1
    )

    # Sample-rate trajectories.
    sample_t = np.arange(n) / sample_rate
    block_of = sample_t * sample_rate / _BLOCK
    f0 = np.interp(block_of, np.arange(n_blocks), f0_blocks)
    f0 *= 1.0 + jitter * _smooth_noise(rng, n, 40)
    phase = 2.0 * np.pi * np.cumsum(f0) / sample_rate
    amplitude = np.interp(block_of, np.arange(n_blocks), voicing)
    amplitude *= 1.0 + shimmer * _smooth_noise(rng, n, 60)

    # Harmonic amplitudes at block rate, then per sample by linear interpolation.
    n_harmonics = int(0.48 * sample_rate / f0_blocks.min())
    k = np.arange(1, n_harmonics + 1)
    harmonic_hz = f0_blocks[:, None] * k
    weights = k ** (-tilt) * _resonances(harmonic_hz, formants[:, None, :])
    weights[harmonic_hz > 0.47 * sample_rate] = 0.0
    left = np.minimum(block_of.astype(int), n_blocks - 2)
    frac = (block_of - left)[:, None]
    per_sample = weights[left] * (1.0 - frac) + weights[left + 1] * frac
    voiced = np.einsum("sk,sk->s", per_sample, np.sin(phase[:, None] * k))
    voiced *= amplitude / max(np.abs(voiced).max(), 1e-9)

    # Aspiration (breathiness): high-passed noise pulsed by the glottal cycle.
    noise = rng.standard_normal(n)
    b, a = butter(2, 1200 / (sample_rate / 2), "highpass")
    aspiration = lfilter(b, a, noise) * amplitude * (0.6 + 0.4 * np.cos(phase))
    # Consonants: band-passed noise whose band depends on the syllable.
    fricative_band = rng.choice([(2500, 5000), (4000, 7500), (1500, 3500)])
    b, a = butter(
        2,
        [fricative_band[0] / (sample_rate / 2), fricative_band[1] / (sample_rate / 2)],
        "bandpass",
    )
    consonants = lfilter(b, a, rng.standard_normal(n))
    consonants *= np.interp(block_of, np.arange(n_blocks), frication)

    signal = voiced + breath * aspiration + 0.5 * consonants
    signal *= 10.0 ** (level_db / 20.0) / max(np.abs(signal).max(), 1e-9)
    signal += 10.0 ** (-60 / 20) * rng.standard_normal(n)  # the room: never digital silence
    return np.clip(signal, -0.99, 0.99).astype(np.float32)


def _annotate(rng: np.random.Generator, utterance: _Utterance) -> tuple[list[list[str]], list]:
    """Three annotators' categories (1 or 2 each) and (val, act, dom) ratings."""
    labels = []
    ratings = []
    for _ in range(3):
        if rng.random() < _ANNOTATOR_ACCURACY:
            chosen = [utterance.category]
        else:
            confusions = CONFUSIONS[utterance.category]
            chosen = [confusions[rng.integers(len(confusions))]]
        if rng.random() < _SECOND_LABEL:
            options = [c for c in CONFUSIONS[chosen[0]] if c not in chosen]
            chosen.append(options[rng.integers(len(options))])
        labels.append(chosen)
        latent = (utterance.valence, utterance.activation, utterance.dominance)
        ratings.append(
            [int(np.clip(np.rint(v + rng.normal(0, _RATING_NOISE)), 1, 5)) for v in latent]
        )
    return labels, ratings


def _summary_label(labels: list[list[str]]) -> str:
    """IEMOCAP's summary: the category most annotators chose if at least two did, and alone
    at the top; otherwise `xxx`."""
    votes: dict[str, int] = {}
    for chosen in labels:
        for category in set(chosen):
            votes[category] = votes.get(category, 0) + 1
    ranked = sorted(votes.values(), reverse=True)
    best = max(votes, key=lambda c: (votes[c], -list(CATEGORIES).index(c)))
    if ranked[0] < 2 or (len(ranked) > 1 and ranked[1] == ranked[0]):
        return "xxx"
    return CATEGORIES[best][0]


def _record(uid: str, start: float, end: float, labels, ratings, annotators) -> str:
    means = np.mean(np.asarray(ratings, dtype=float), axis=0)
    lines = [
        f"[{start:.4f} - {end:.4f}]\t{uid}\t{_summary_label(labels)}\t"
        f"[{means[0]:.4f}, {means[1]:.4f}, {means[2]:.4f}]"
    ]
    for who, chosen in zip(annotators, labels, strict=True):
        names = " ".join(f"{CATEGORIES[c][1]};" for c in chosen)
        lines.append(f"C-{who}:\t{names}\t()")
    for who, (v, a, d) in zip(annotators, ratings, strict=True):
        lines.append(f"A-{who}:\tval {v}; act {a}; dom  {d};\t()")
    return "\n".join(lines)


def _dialog_names(session: int, n_dialogs: int) -> list[str]:
    names = []
    for d in range(n_dialogs):
        marker = "F" if d % 2 == 0 else "M"
        number = d // 2 + 1
        kind = f"impro{number:02d}" if d % 2 == 0 else f"script{number:02d}_1"
        names.append(f"Ses{session:02d}{marker}_{kind}")
    return names


def write_demo_corpus(
    root: str | Path,
    spec: DemoSpec = DemoSpec(),  # noqa: B008 - frozen dataclass, never mutated
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> DemoSummary:
    """Write the corpus under `root`; the same spec always writes the same bytes, whatever
    the number of `workers` (processes, one dialog at a time each: every random draw depends
    only on the seed, session, speaker and turn)."""
    root = Path(root)
    summary = DemoSummary()
    total = spec.sessions * 2 * spec.utterances_per_speaker
    n_dialogs = -(-spec.utterances_per_speaker // _UTTERANCES_PER_DIALOG)
    jobs = [
        (root, spec, session, d, dialog)
        for session in range(1, spec.sessions + 1)
        for d, dialog in enumerate(_dialog_names(session, n_dialogs))
    ]
    with contextlib.ExitStack() as stack:
        if workers > 1:
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=workers))
            done = pool.map(_write_dialog, *zip(*jobs, strict=True))
        else:
            done = map(_write_dialog, *zip(*jobs, strict=True))
        for part in done:
            summary.n_utterances += part.n_utterances
            summary.total_seconds += part.total_seconds
            for category, count in part.counts.items():
                summary.counts[category] = summary.counts.get(category, 0) + count
            if progress is not None:
                progress(summary.n_utterances, total)
    return summary


def _write_dialog(root: Path, spec: DemoSpec, session: int, d: int, dialog: str) -> DemoSummary:
    """One dialog's wav files and its EmoEvaluation file."""
    summary = DemoSummary()
    speakers = {g: _speaker(spec, session, g) for g in "FM"}
    label_dir = root / f"Session{session}" / "dialog" / "EmoEvaluation"
    label_dir.mkdir(parents=True, exist_ok=True)
    wav_dir = root / f"Session{session}" / "sentences" / "wav" / dialog
    wav_dir.mkdir(parents=True, exist_ok=True)
    pool_rng = _rng(spec, session, 2, d)
    annotators = [f"E{i}" for i in sorted(pool_rng.choice(np.arange(1, 6), 3, False))]
    records = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
    clock = pool_rng.uniform(2.0, 6.0)
    first = d * _UTTERANCES_PER_DIALOG
    last = min(first + _UTTERANCES_PER_DIALOG, spec.utterances_per_speaker)
    for turn in range(first, last):
        for g_index, gender in enumerate("FM"):
            rng = _rng(spec, session, 3 + g_index, turn)
            utterance = _draw_utterance(rng)
            audio = synthesise(rng, speakers[gender], utterance, spec.sample_rate)
            uid = f"{dialog}_{gender}{turn - first:03d}"
            sf.write(wav_dir / f"{uid}.wav", audio, spec.sample_rate, subtype="PCM_16")
            seconds = audio.shape[0] / spec.sample_rate
            labels, ratings = _annotate(rng, utterance)
            records += [_record(uid, clock, clock + seconds, labels, ratings, annotators), ""]
            clock += seconds + rng.uniform(0.2, 1.5)
            summary.n_utterances += 1
            summary.total_seconds += seconds
            summary.counts[utterance.category] = summary.counts.get(utterance.category, 0) + 1
    (label_dir / f"{dialog}.txt").write_text("\n".join(records))
    return summary
