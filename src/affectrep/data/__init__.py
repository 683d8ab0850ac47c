"""Data: from audio files to arrays on disk (audio, corpora, manifests, features)."""
