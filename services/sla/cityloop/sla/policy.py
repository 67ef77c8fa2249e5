"""Deadline arithmetic: pure functions over datetimes."""

from datetime import datetime


def warn_at(started: datetime, due: datetime, ratio: float) -> datetime:
    """预警 moment: ``ratio`` of the way from start to deadline."""
    return started + (due - started) * ratio
