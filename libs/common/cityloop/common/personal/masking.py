"""Masked forms of personal data: enough to recognise a record, never enough to reach the person."""

import re
import unicodedata

#: Where an address stops naming an area and starts naming a door: the first digit, or a Chinese
#: numeral followed by what numbers it (号, 弄, 栋, ...).
_HOUSE_NUMBER = re.compile(r"[0-9]|[一二三四五六七八九十百千零〇两]+[号弄栋幢楼室单元巷座]")


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    if len(digits) < 8:
        return digits[:1] + "*" * (len(digits) - 3) + digits[-2:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(name: str | None) -> str | None:
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_address(address: str | None) -> str | None:
    """Down to the road, street or community: everything from the house number on is hidden.

    浦东新区花木街道锦绣路1001弄7号601室 -> 浦东新区花木街道锦绣路***"""
    if not address:
        return address
    text = unicodedata.normalize("NFKC", address)
    found = _HOUSE_NUMBER.search(text)
    if found is None:
        return text
    return text[: found.start()].rstrip() + "***"


def mask_id_number(id_number: str | None) -> str | None:
    """Keep the region code's first digits and the check digit: 310***********123X -> 310**************X."""
    if not id_number:
        return id_number
    return id_number[:3] + "*" * (len(id_number) - 4) + id_number[-1:]


def mask_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return email
    local, _, domain = email.partition("@")
    return (local[:1] or "*") + "***@" + domain


def mask_card(number: str) -> str:
    """A bank card: only the last four digits (6222 0212 3456 7890 -> ************7890)."""
    digits = re.sub(r"\D", "", number)
    return "*" * (len(digits) - 4) + digits[-4:]
