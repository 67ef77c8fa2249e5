"""The one refusal router's flows raise; http.py turns it into the shared JSON error body."""

from dataclasses import dataclass


@dataclass
class ActionRefused(Exception):
    """Becomes an HTTP error naming the field and the problem."""

    status: int
    error: str
    message: str
    field: str | None = None
