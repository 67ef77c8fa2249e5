import pytest

from cityloop.common.identity import Identity, Role, decode_identity, encode_identity

SECRET = "s3cret"


def test_identity_survives_the_trip_through_the_header() -> None:
    who = Identity(subject="clerk-1", role=Role.DEPARTMENT, dept_code="pd-sanitation")
    assert decode_identity(encode_identity(who, SECRET), SECRET) == who


def test_a_forged_or_tampered_header_is_refused() -> None:
    header = encode_identity(Identity(subject="x", role=Role.DEPARTMENT, dept_code="a"), SECRET)
    with pytest.raises(ValueError, match="signature"):
        decode_identity(header, "another-secret")
    signature = header.rsplit(".", 1)[1]
    forged = encode_identity(Identity(subject="x", role=Role.ADMIN), "guess")
    with pytest.raises(ValueError, match="signature"):
        decode_identity(f"{forged.rsplit('.', 1)[0]}.{signature}", SECRET)
    with pytest.raises(ValueError, match="malformed"):
        decode_identity("no-dot-here", SECRET)
