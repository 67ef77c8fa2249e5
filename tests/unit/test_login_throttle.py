"""Login backoff per username (services/intake/cityloop/intake/accounts/throttle.py), on a given clock."""

from cityloop.intake.accounts.throttle import LoginThrottle


def test_failures_back_off_exponentially_up_to_the_cap() -> None:
    throttle = LoginThrottle(free=2, base_seconds=1, max_seconds=8)
    waits = []
    for _ in range(8):
        throttle.failed("ann", now=100.0)
        waits.append(throttle.wait("ann", "203.0.113.1", now=100.0))
    assert waits == [0, 0, 1, 2, 4, 8, 8, 8]
    assert throttle.wait("ann", "203.0.113.1", now=108.0) == 0  # the wait passes by itself
    assert throttle.wait("bob", "203.0.113.1", now=100.0) == 0  # per username


def test_success_resets_and_the_owners_addresses_skip_the_backoff() -> None:
    throttle = LoginThrottle(free=1, base_seconds=10, max_seconds=60, remembered_addresses=2)
    throttle.succeeded("ann", "198.51.100.1")
    for _ in range(5):
        throttle.failed("ann", now=0.0)
    assert throttle.wait("ann", "203.0.113.9", now=1.0) > 0
    assert throttle.wait("ann", "198.51.100.1", now=1.0) == 0
    throttle.succeeded("ann", "198.51.100.1")
    assert throttle.wait("ann", "203.0.113.9", now=1.0) == 0
    # Only the newest few addresses are remembered.
    throttle.succeeded("ann", "198.51.100.2")
    throttle.succeeded("ann", "198.51.100.3")
    for _ in range(3):
        throttle.failed("ann", now=0.0)
    assert throttle.wait("ann", "198.51.100.1", now=1.0) > 0
    assert throttle.wait("ann", "198.51.100.3", now=1.0) == 0


def test_the_remembered_usernames_are_bounded() -> None:
    throttle = LoginThrottle(free=1, capacity=3)
    for name in ("a", "b", "c", "d"):
        throttle.failed(name, now=0.0)
        throttle.failed(name, now=0.0)
    assert throttle.wait("a", "x", now=0.5) == 0  # forgotten, least recently used first
    assert throttle.wait("d", "x", now=0.5) > 0
