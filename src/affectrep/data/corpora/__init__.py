"""Corpus readers: each turns a corpus on disk into manifest rows (`affectrep.data.manifest`)."""
