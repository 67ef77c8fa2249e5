"""Chinese phone numbers (``phonenumbers``, Google's libphonenumber) and resident ID numbers (居民身份证,
``python-stdnum``'s cn.ric: format, birth date and the ISO 7064 check digit)."""

import phonenumbers
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

REGION = "CN"


def phone_e164(value: str) -> str:
    """The number in E.164 (+8613812345678), however it was written; ValueError if it is no valid number."""
    try:
        parsed = phonenumbers.parse(value, REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_phone(value: str) -> bool:
    try:
        phone_e164(value)
    except ValueError:
        return False
    return True


def id_number(value: str) -> str:
    """The ID number, compact with an upper-case X; ValueError naming what is wrong."""
    try:
        return str(ric.validate(value))
    except ValidationError as exc:
        raise ValueError(f"not a valid resident ID number ({exc})") from exc


def is_id_number(value: str) -> bool:
    return bool(ric.is_valid(value))
