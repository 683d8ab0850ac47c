"""IEMOCAP, read from the real release layout and the real EmoEvaluation label format.

Layout::

    <root>/SessionN/sentences/wav/<dialog>/<utterance>.wav
    <root>/SessionN/dialog/EmoEvaluation/<dialog>.txt

An EmoEvaluation record looks like (fields separated by TABs)::

    [6.2901 - 8.2357]   Ses01F_impro01_F000   neu   [2.5000, 2.5000, 2.5000]
    C-E2:   Neutral;    ()
    C-E3:   Neutral; Frustration;   ()
    C-F1:   Neutral;    (curious)
    A-E3:   val 3; act 2; dom  2;   ()

`C-` lines are categorical judgements (an annotator may give several categories), `A-` lines
are valence/activation/dominance ratings from 1 to 5. Annotators `E*` are the external
evaluators; `F*`/`M*` are the actors' self-evaluations, which the paper does not count.

The text is read strictly, so that a damaged copy fails loudly instead of quietly losing
labels: a line that looks like an annotation but does not parse, and an utterance labelled
twice (in one file or in two), stop the reader with the file and line named. A UTF-8 byte
order mark (left by some editors) is accepted. A label whose WAV is absent and a WAV without
a label are not errors of the text: `read_iemocap` returns them as `Rejection`s (`missing`,
`unlabelled`) for `rejected.tsv`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from affectrep.data.corpora.discovery import CorpusError, find_audio
from affectrep.data.emotions import four_class
from affectrep.data.manifest import Rejection, Utterance

_SUMMARY = re.compile(
    r"^\[(?P<start>[\d.]+)\s*-\s*(?P<end>[\d.]+)\]\s+(?P<id>\S+)\s+(?P<label>\S+)\s+"
    r"\[(?P<v>[\d.]+),\s*(?P<a>[\d.]+),\s*(?P<d>[\d.]+)\]\s*$"
)
_CATEGORICAL = re.compile(r"^C-(?P<who>[A-Za-z]+\d*):\s*(?P<labels>[^()]*?)\s*(\(.*\))?\s*$")
_ATTRIBUTE = re.compile(r"^A-(?P<who>[A-Za-z]+\d*):\s*(?P<ratings>[^()]*?)\s*(\(.*\))?\s*$")
# One item of an A- line's `val 3; act 2; dom  2;`. A name without a value is a rating the
# annotator left out.
_RATING = re.compile(r"^(?P<name>val|act|dom)(?:\s+(?P<value>\d+(?:\.\d+)?))?$")
# Lines that are meant as annotations but are not a well-formed C- or A- line: a mangled
# prefix (`c-E2:`, `A -E3:`, `E3:`) or ratings without their prefix.
_ANNOTATION_LIKE = re.compile(
    r"^[A-Za-z]{1,3}\s*-\s*[A-Za-z]+\d*\s*:|^[A-Za-z]+\d+\s*:|\b(?:val|act|dom)\s+\d"
)

# IEMOCAP's categorical names, normalised to the words the manifest uses.
_CATEGORY_NAMES = {
    "neutral": "neutral",
    "neutral state": "neutral",
    "anger": "anger",
    "sadness": "sadness",
    "happiness": "happiness",
    "excited": "excited",
    "frustration": "frustration",
    "surprise": "surprise",
    "fear": "fear",
    "disgust": "disgust",
    "other": "other",
}


@dataclass
class EmoEvaluation:
    """One utterance's record of an EmoEvaluation file.

    `categories` maps annotator id (``E1``, ``F1``, ...) to the categories they chose;
    `ratings` maps annotator id to {"val", "act", "dom"} -> rating (1 to 5).
    """

    utterance_id: str
    start_s: float
    end_s: float
    summary_label: str
    summary_vad: tuple[float, float, float]
    categories: dict[str, list[str]] = field(default_factory=dict)
    ratings: dict[str, dict[str, float]] = field(default_factory=dict)
    source: str = ""
    line: int = 0

    @property
    def where(self) -> str:
        return f"{self.source}, line {self.line}"


def _category(name: str, where: str) -> str:
    key = name.strip().lower()
    if key in _CATEGORY_NAMES:
        return _CATEGORY_NAMES[key]
    # The release has a handful of free-text "Other" entries such as "Other:concerned".
    if key.startswith("other"):
        return "other"
    raise CorpusError(f"{where}: unknown IEMOCAP category {name!r}")


def _ratings(text: str, where: str, raw: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for item in text.split(";"):
        item = item.strip()
        if not item:
            continue
        match = _RATING.match(item)
        if match is None:
            raise CorpusError(
                f"{where}: malformed rating {item!r} in attribute line {raw!r}; "
                f"expected 'val N; act N; dom N;'"
            )
        # Some annotators left a rating out (`dom ;`); keep what is there.
        if match["value"] is not None:
            found[match["name"]] = float(match["value"])
    return found


def parse_emo_evaluation(text: str, source: str = "<text>") -> list[EmoEvaluation]:
    """Parse the text of one EmoEvaluation file; `source` names it in error messages."""
    records: list[EmoEvaluation] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = raw.strip()
        where = f"{source}, line {number}"
        if not line or line.startswith("%"):
            continue
        if line.startswith("["):
            match = _SUMMARY.match(line)
            if match is None:
                raise CorpusError(
                    f"{where}: expected '[start - end]<TAB>utterance<TAB>label<TAB>[V, A, D]', "
                    f"got {raw!r}"
                )
            if match["id"] in seen:
                raise CorpusError(
                    f"{where}: utterance {match['id']} is labelled again "
                    f"(first on line {seen[match['id']]})"
                )
            seen[match["id"]] = number
            records.append(
                EmoEvaluation(
                    utterance_id=match["id"],
                    start_s=float(match["start"]),
                    end_s=float(match["end"]),
                    summary_label=match["label"],
                    summary_vad=(float(match["v"]), float(match["a"]), float(match["d"])),
                    source=source,
                    line=number,
                )
            )
            continue
        if not records:
            raise CorpusError(f"{where}: annotation before the first utterance line: {raw!r}")
        current = records[-1]
        if line.startswith("C-"):
            match = _CATEGORICAL.match(line)
            if match is None:
                raise CorpusError(f"{where}: malformed categorical line {raw!r}")
            labels = [part for part in match["labels"].split(";") if part.strip()]
            current.categories[match["who"]] = [_category(label, where) for label in labels]
        elif line.startswith("A-"):
            match = _ATTRIBUTE.match(line)
            if match is None:
                raise CorpusError(f"{where}: malformed attribute line {raw!r}")
            current.ratings[match["who"]] = _ratings(match["ratings"], where, raw)
        elif _ANNOTATION_LIKE.search(line):
            raise CorpusError(
                f"{where}: malformed annotation line {raw!r}; expected 'C-<annotator>:' "
                f"or 'A-<annotator>:'"
            )
        # Other text in a record is not used here.
    return records


def is_external(annotator: str) -> bool:
    """External evaluators are named E1, E2, ...; F1/M1 are the actors rating themselves."""
    return annotator.startswith("E")


def majority_category(record: EmoEvaluation, *, include_self: bool = False) -> tuple[str, int, int]:
    """The category most annotators chose, how many chose it, and how many annotators there were.

    Each annotator votes once for every category they listed. A tie for the top returns ``""``
    (no majority), as does a record without annotators.
    """
    voters = {
        who: labels for who, labels in record.categories.items() if include_self or is_external(who)
    }
    votes: Counter[str] = Counter()
    for labels in voters.values():
        votes.update(set(labels))
    if not votes:
        return "", 0, len(voters)
    ranked = votes.most_common()
    best, count = ranked[0]
    if len(ranked) > 1 and ranked[1][1] == count:
        return "", count, len(voters)
    return best, count, len(voters)


def mean_ratings(record: EmoEvaluation, *, include_self: bool = False) -> dict[str, float]:
    """Mean of the annotators' val/act/dom ratings; the summary line's values where none."""
    means: dict[str, float] = {}
    for index, name in enumerate(("val", "act", "dom")):
        values = [
            ratings[name]
            for who, ratings in record.ratings.items()
            if name in ratings and (include_self or is_external(who))
        ]
        means[name] = sum(values) / len(values) if values else record.summary_vad[index]
    return means


def speaker_of(utterance_id: str) -> str:
    """`Ses01F_impro01_M003` -> `Ses01M`: session prefix plus the gender letter of the last part.

    The letter in the dialog name says who wore the motion-capture markers, not who speaks.
    """
    parts = utterance_id.split("_")
    if len(parts) < 3 or not re.fullmatch(r"Ses\d\d[FM]", parts[0]) or parts[-1][:1] not in "FM":
        raise CorpusError(
            f"utterance id {utterance_id!r} is not in IEMOCAP's form Ses01F_impro01_M003"
        )
    return parts[0][:5] + parts[-1][0]


def read_labels(root: Path) -> dict[str, tuple[EmoEvaluation, Path]]:
    """Every EmoEvaluation record under `root`: utterance id -> (record, its label file).

    An utterance labelled in two files is an error naming both.
    """
    labels: dict[str, tuple[EmoEvaluation, Path]] = {}
    for text_file in sorted(Path(root).glob("Session*/dialog/EmoEvaluation/*.txt")):
        if text_file.name.startswith("._"):
            continue
        text = text_file.read_bytes().decode("utf-8-sig", errors="replace")
        for record in parse_emo_evaluation(text, str(text_file)):
            if record.utterance_id in labels:
                first = labels[record.utterance_id][0]
                raise CorpusError(
                    f"utterance {record.utterance_id} is labelled twice: in {first.where} "
                    f"and in {record.where}"
                )
            labels[record.utterance_id] = (record, text_file)
    return labels


def _wanted(dialog: str, dialogs: str) -> bool:
    if dialogs == "improvised":
        return "_impro" in dialog
    if dialogs == "scripted":
        return "_script" in dialog
    return True


def read_iemocap(
    root: Path,
    *,
    merge_excited: bool = False,
    min_agreement: int = 2,
    dialogs: str = "all",
    include_self_evaluation: bool = False,
) -> tuple[list[Utterance], list[Rejection]]:
    """Read every utterance of an IEMOCAP release under `root`.

    `emotion` is set only where at least `min_agreement` annotators agree on one of the four
    classes (the paper's rule); `dialogs` is ``all``, ``improvised`` or ``scripted``.
    Activation and valence are the annotators' mean ratings (1 to 5).

    Returns the rows (sorted by id) and what cannot be a row, for `rejected.tsv`: a label
    whose WAV is absent (`missing`, at the path the WAV should have) and a WAV without a
    label (`unlabelled`).
    """
    if dialogs not in ("all", "improvised", "scripted"):
        raise ValueError(f"dialogs must be all, improvised or scripted, not {dialogs!r}")
    expected = "Session1..Session5 folders with sentences/wav/<dialog>/<utterance>.wav"
    wavs = find_audio(root, "Session*/sentences/wav/*/*.wav", expected=expected)
    labels = read_labels(root)

    rows: list[Utterance] = []
    rejected: list[Rejection] = []
    for wav in wavs:
        utterance_id = wav.stem
        dialog = wav.parent.name
        if not _wanted(dialog, dialogs):
            continue
        if utterance_id not in labels:
            label_file = wav.parents[3] / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
            rejected.append(
                Rejection(
                    str(wav.resolve()),
                    "unlabelled",
                    f"no record for {utterance_id} in {label_file}",
                )
            )
            continue
        record = labels[utterance_id][0]
        speaker = speaker_of(utterance_id)
        category, agreement, n_annotators = majority_category(
            record, include_self=include_self_evaluation
        )
        emotion = four_class(category, merge_excited=merge_excited)
        if agreement < min_agreement:
            emotion = ""
        ratings = mean_ratings(record, include_self=include_self_evaluation)
        rows.append(
            Utterance(
                id=utterance_id,
                path=str(wav.resolve()),
                speaker=speaker,
                session=f"Ses{utterance_id[3:5]}",
                gender=speaker[-1],
                emotion_raw=category if agreement >= min_agreement else "",
                emotion=emotion,
                activation=ratings["act"],
                valence=ratings["val"],
                dominance=ratings["dom"],
                agreement=agreement,
                n_annotators=n_annotators,
            )
        )
    found = {wav.stem for wav in wavs}
    for utterance_id, (record, text_file) in labels.items():
        dialog = text_file.stem
        if utterance_id in found or not _wanted(dialog, dialogs):
            continue
        wav = text_file.parents[2] / "sentences" / "wav" / dialog / f"{utterance_id}.wav"
        rejected.append(
            Rejection(
                str(wav.resolve()), "missing", f"labelled in {record.where}; no such audio file"
            )
        )
    return sorted(rows, key=lambda row: row.id), sorted(rejected, key=lambda r: r.path)
