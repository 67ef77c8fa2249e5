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
    #: Free-text fields whose stored (and announced) form was redacted: field -> the full text.
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

    def revealed(self) -> list[str]:
        """What a full read shows beyond the masked forms (empty fields reveal nothing)."""
        return [f for f in CITIZEN_FIELDS if getattr(self, f)] + sorted(self.texts)


def keep_text(personal: Personal, field: str, text: str | None) -> str | None:
    """The redacted form of ``text`` to store and announce; the full text goes to ``personal`` if it differs."""
    if text is None:
        return None
    redacted = redact(text)
    if redacted != text:
        personal.texts[field] = text
    return redacted
