"""Data: from audio files to arrays on disk, with no model and no evaluation in sight.

- `audio`: reading and checking audio (sample rate, channel, too short, silent).
- `corpora/`: the corpus readers (IEMOCAP, EmoDB, RAVDESS, CREMA-D, a plain table) and
  `build`, which turns any of them into a manifest.
- `manifest`: one row per utterance (id, path, speaker, session, labels), as TSV.
- `emotions`: the four classes and how a corpus's own labels map onto them.
- `demo`: the synthetic demo corpus, written in IEMOCAP's release layout.
- `spectrogram`: FFT and log-mel frames of a signal.
- `featureset`: a corpus's normalised frames on disk (frames.npy, index.tsv, stats.npz).
- `npyio`, `pytree_io`: row blocks of large `.npy` files; parameter trees as plain `.npz`.
- `vectors`: one vector per utterance on disk (a `.npy` and a TSV of ids), and the checked
  loading of vectors computed elsewhere.
- `egemaps`: openSMILE's eGeMAPS and ComParE 2016 functionals of every utterance (the
  hand-crafted baselines).

Imports only the top-level helpers (`affectrep.atomic`, `affectrep.progress`, ...).
"""
