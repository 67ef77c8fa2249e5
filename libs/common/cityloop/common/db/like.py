"""LIKE patterns from user text: the text matches literally, its % _ and \\ included."""


def escape_like(text: str) -> str:
    """``text`` with LIKE's wildcards escaped by backslash, PostgreSQL's default LIKE escape character."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(text: str | None) -> str | None:
    """A pattern matching values that contain ``text`` (None stays None: no filter)."""
    return None if text is None else f"%{escape_like(text)}%"


def starts_with(text: str | None) -> str | None:
    """A pattern matching values that begin with ``text``."""
    return None if text is None else f"{escape_like(text)}%"
