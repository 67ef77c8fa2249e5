"""Keeping label values bounded."""

import re
import threading

_DEPT_TASKS = re.compile(r"^dept\.[^.]+\.tasks$")


def topic_family(topic: str, prefix: str = "") -> str:
    """The logical topic without the deployment prefix, with the ~900 ``dept.<code>.tasks`` topics folded
    into one ``dept.*.tasks``: a per-department label would have a series per department."""
    logical = topic[len(prefix) :] if prefix and topic.startswith(prefix) else topic
    return "dept.*.tasks" if _DEPT_TASKS.match(logical) else logical


class Bounded:
    """Passes the first ``limit`` distinct values and maps later ones to ``other``: a label fed by data
    (event types from the wire, district names) never grows without bound."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str | None) -> str:
        if not value:
            return "unknown"
        with self._lock:
            if value in self._seen:
                return value
            if len(self._seen) < self._limit:
                self._seen.add(value)
                return value
        return "other"


#: Event types: the contract registers a few dozen; anything beyond is a producer bug, counted as "other".
event_type = Bounded(200)
