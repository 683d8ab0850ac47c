"""The evaluation protocol: folds, metrics, classifiers, tables and figures."""
