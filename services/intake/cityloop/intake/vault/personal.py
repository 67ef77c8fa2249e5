"""What the vault keeps for a ticket, and the masked forms everyone else sees. Pure."""

from pydantic import BaseModel, Field

from cityloop.common.personal.masking import mask_address, mask_email, mask_id_number, mask_name, mask_phone
from cityloop.common.personal.redaction import redact

#: The citizen's personal fields (what a full read reveals and the access log records).
CITIZEN_FIELDS = ("name", "phone", "id_number", "address", "email")


class Personal(BaseModel):
    """The sealed document of one ticket: the citizen's data and the full text of free-text fields."""

    name: str | None = None
    phone: str | None = None
    id_number: str | None = None
    address: str | None = None
    email: str | None = None
    #: Free-text fields whose stored (and announced) form was redacted: field -> the full text. Free text of
    #: later events (a department's note, a callback comment) under ``event_text_key``.
    texts: dict[str, str] = Field(default_factory=dict)

    def citizen(self) -> dict[str, str | None]:
        return {field: getattr(self, field) for field in CITIZEN_FIELDS}

    def masked(self) -> dict[str, str | None]:
        return {
            "name": mask_name(self.name),
            "phone": mask_phone(self.phone),
            "id_number": mask_id_number(self.id_number),
            "address": mask_address(self.address),
            "email": mask_email(self.email),
        }

    def event_texts(self) -> dict[str, dict[str, str]]:
        """The full free text of later events: event id -> {path on the event: text}."""
        found: dict[str, dict[str, str]] = {}
        for key, text in self.texts.items():
            if key.startswith(EVENT_TEXT):
                event_id, _, path = key[len(EVENT_TEXT) :].rpartition("#")
                found.setdefault(event_id, {})[path] = text
        return found

    def revealed(self) -> list[str]:
        """What a full read shows beyond the masked forms (empty fields reveal nothing)."""
        return [f for f in CITIZEN_FIELDS if getattr(self, f)] + sorted(self.texts)


#: Prefix of the ``texts`` keys of free text sealed on a lifecycle event: ``event:<event id>#<path>``.
EVENT_TEXT = "event:"


def event_text_key(event_id: str, path: str) -> str:
    return f"{EVENT_TEXT}{event_id}#{path}"


def keep_text(personal: Personal, field: str, text: str | None) -> str | None:
    """The redacted form of ``text`` to store and announce; the full text goes to ``personal`` if it differs."""
    if text is None:
        return None
    redacted = redact(text)
    if redacted != text:
        personal.texts[field] = text
    return redacted
