"""Free-text redaction: phone numbers, resident ID numbers, bank cards (Luhn) and e-mail addresses typed
into a description, a note or a comment are replaced by their masked forms. Pure functions.

Candidates are found with loose patterns and kept only when the libraries say they are real (a valid
phone number for China, an ID number with a valid check digit, a card number passing Luhn), so order
numbers and dates stay readable."""

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator
from stdnum import luhn

from cityloop.common.personal.masking import mask_card, mask_email, mask_id_number, mask_phone
from cityloop.common.personal.validation import is_id_number, is_phone

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Letters next to the digits rule a candidate out (hex ids, ticket ids): T20261122-0000123, a9f3...
_ID = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
# Bank cards: 16 to 19 digits, optionally grouped (6222 0212 3456 7890).
_CARD = re.compile(r"(?<![0-9A-Za-z])[0-9](?:[ -]?[0-9]){15,18}(?![0-9A-Za-z])")
# Mobiles (13812345678, +86 138 1234 5678) and landlines with their area code (021-62345678, (021)62345678).
# A bare 8-digit local number is not told apart from an order number, and a ticket id (T20261122-0000123)
# or a hex id is not a phone: letters next to the digits rule a candidate out.
_PHONE = re.compile(
    r"(?<![0-9A-Za-z])(?:(?:\+|00)86[ -]?)?"
    r"(?:1[3-9][0-9](?:[ -]?[0-9]){8}|(?:\(0[0-9]{2,3}\)|0[0-9]{2,3})[ -]?[0-9]{3,4}[ -]?[0-9]{4})"
    r"(?![0-9A-Za-z])"
)
# Every pattern above needs three digits in a row or an @: most texts (and summaries such as "confidence
# 0.93") have neither and skip the patterns (~1 us instead of ~30 us per text).
_DIGITS = re.compile(r"[0-9]{3}|@")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _card(candidate: str) -> str | None:
    digits = _digits(candidate)
    return mask_card(digits) if 16 <= len(digits) <= 19 and luhn.is_valid(digits) else None


def _phone(candidate: str) -> str | None:
    if not is_phone(candidate):
        return None
    digits = _digits(candidate)
    for country in ("0086", "86"):
        if digits.startswith(country) and len(digits) > 11:
            digits = digits[len(country) :]
            break
    return mask_phone(digits)


#: (pattern, masker) in priority order: an ID number is never read as a card, a card never as a phone.
_DETECTORS: tuple[tuple[re.Pattern[str], Callable[[str], str | None]], ...] = (
    (_EMAIL, mask_email),
    (_ID, lambda c: mask_id_number(c.upper()) if is_id_number(c) else None),
    (_CARD, _card),
    (_PHONE, _phone),
)


def redact(text: str) -> str:
    """``text`` with every phone number, ID number, bank card and e-mail address masked."""
    if not text or not _DIGITS.search(text):
        return text
    taken: list[tuple[int, int, str]] = []
    for pattern, masker in _DETECTORS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < e and s < end for s, e, _ in taken):
                continue
            masked = masker(match.group())
            if masked is not None and masked != match.group():
                taken.append((start, end, masked))
    if not taken:
        return text
    out, at = [], 0
    for start, end, masked in sorted(taken):
        out.append(text[at:start])
        out.append(masked)
        at = end
    out.append(text[at:])
    return "".join(out)


def has_personal_data(text: str | None) -> bool:
    return bool(text) and redact(text or "") != text


#: Free-text fields of events and documents: what people type, so what may hold personal data.
#: The names people type into on a form; input_guard.py strips control characters in these.
TYPED_TEXT = frozenset(
    {"description", "note", "notes", "comment", "comments", "reason", "summary", "text", "message", "details"}
)
FREE_TEXT = TYPED_TEXT | {"direct_answer", "answer", "status_notes"}


def redact_fields(value: Any, fields: frozenset[str] = FREE_TEXT) -> Any:
    """A copy of a JSON-like value with every string under a free-text key redacted, at any depth."""
    if isinstance(value, dict):  # JSON-like (model_dump), so a dict: cheaper to test than the Mapping ABC
        return {
            key: redact(item) if key in fields and isinstance(item, str) else redact_fields(item, fields)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_fields(item, fields) for item in value]
    return value


#: A free-text field of an HTTP body that is stored and listed redacted (e.g. a callback comment): the
#: service that receives it keeps no full copy, so none can leak from its lists or its database.
RedactedText = Annotated[str, AfterValidator(redact)]
