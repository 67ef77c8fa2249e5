"""Masking personal data for anyone who does not need it in full (可用不可见). The masks themselves are
shared (libs/common personal/masking.py: router masks the task's address with the same rule)."""

from cityloop.common.personal.masking import mask_address, mask_email, mask_id_number, mask_name, mask_phone

__all__ = ["mask_address", "mask_email", "mask_id_number", "mask_name", "mask_phone", "round_coordinate"]


def round_coordinate(value: float | None, places: int = 3) -> float | None:
    """~100 m: enough to place a pothole on a public map, not enough to find a flat."""
    return None if value is None else round(value, places)
