"""Masking personal data for anyone who does not need it in full (可用不可见)."""


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
    """Keep the area (first part), hide the house number and below."""
    if not address:
        return address
    keep = max(len(address) // 2, 1)
    return address[:keep] + "*" * (len(address) - keep)


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


def round_coordinate(value: float | None, places: int = 3) -> float | None:
    """~100 m: enough to place a pothole on a public map, not enough to find a flat."""
    return None if value is None else round(value, places)
