"""The evaluation protocol: labels are used here and only here, to measure representations.

- `folds`: leave-one-session-out runs (who trains, validates, is tested) and their result.
- `metrics`: WA, UA, per-class recall, the paper's utterance decision rule.
- `validation`: Table 1's softmax on codes of the training speakers, held-out speakers.
- `mlp`: the frame-level MLP of Table 2 (from a pretrained encoder or random weights), early
  stopping on the validation speaker, one fold's result.
- `utterance`: the softmax on utterance vectors (eGeMAPS functionals, BLSTM vectors, pooled
  codes), its strength chosen on the validation speaker.
- `heads`: pooled codes and the emotion softmax and activation/valence ridge heads as arrays.
- `dimensional`: activation and valence regression (CCC, Pearson's r).
- `crosscorpus`: train on one corpus, test on another.
- `separation`: numbers that say whether a representation separates affect.
- `tables`, `table2`, `figures`: Tables 1 and 2 beside the paper's, and the t-SNE figures.

Imports data, models and train; never a stage or the bundle.
"""
