"""Progress lines: the end is logged once, however often it is reported."""

import logging

from affectrep.progress import Progress


def test_the_end_is_logged_once_and_nothing_between_within_the_interval(caplog):
    logger = logging.getLogger("test-progress")
    with caplog.at_level(logging.INFO, logger="test-progress"):
        progress = Progress(10, "epoch 1", logger, unit="steps", every_s=3600)
        for done in range(1, 11):
            progress.update(done)
        progress.update(10)  # a caller that reports the end again after its loop
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and lines[0].startswith("epoch 1: 10/10 (100%)")


def test_a_zero_interval_logs_every_new_count(caplog):
    logger = logging.getLogger("test-progress-all")
    with caplog.at_level(logging.INFO, logger="test-progress-all"):
        progress = Progress(3, "files", logger, every_s=0.0)
        for done in (1, 1, 2, 3, 3):
            progress.update(done)
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "files: 1/3",
        "files: 2/3",
        "files: 3/3",
    ]
