"""intake/accounts/key_cache.py: a key found is believed for its seconds, then looked up again."""

from cityloop.common.identity import Identity, Role
from cityloop.intake.accounts.key_cache import MAX_KEYS, KeyCache
from tests.fake_clock import FakeClock

CTI = Identity(subject="hotline-cti", role=Role.CALL_TAKER, dept_code=None)


def test_a_found_key_is_believed_until_its_seconds_pass() -> None:
    clock = FakeClock(1000.0)
    keys = KeyCache(5.0, timer=clock)
    assert keys.get("h1") is None
    keys.put("h1", CTI)
    clock.now += 4.9
    assert keys.get("h1") == CTI
    clock.now += 0.2  # 5.1 s after it was found: a revocation since then must be seen, so ask the database
    assert keys.get("h1") is None


def test_zero_seconds_keeps_nothing() -> None:
    keys = KeyCache(0)
    keys.put("h1", CTI)
    assert keys.get("h1") is None


def test_the_number_of_keys_kept_is_bounded() -> None:
    keys = KeyCache(60.0, timer=FakeClock())
    for n in range(MAX_KEYS + 10):
        keys.put(f"h{n}", CTI)
    assert keys.get("h0") is None  # the oldest went first
    assert keys.get(f"h{MAX_KEYS + 9}") == CTI
