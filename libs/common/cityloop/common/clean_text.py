"""Free text as CityLoop stores it: without the control characters XML 1.0 and PostgreSQL refuse. One rule for
both edges where text comes in: HTTP (input_guard.py) and the departments' Kafka topics (contract/models.py
DeptUpdate)."""

import re

_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_controls(text: str) -> str:
    """Free text without the control characters XML 1.0 and PostgreSQL refuse (tab, LF, CR are kept)."""
    return _CONTROL_IN_TEXT.sub("", text)
