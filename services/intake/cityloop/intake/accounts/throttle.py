"""Login throttling per username: exponential backoff after failures, that never locks out the owner.

Only failures count, and a success resets the username. After ``free`` failures, each further failure
makes the username wait ``base * 2**k`` seconds (capped) before the next attempt is even checked. The
owner is not locked out by someone else's guessing: an address the username signed in from before is
remembered (a few per username) and skips the backoff; and the wait is capped, so nobody waits forever.
Guessing across usernames from one address is the per-address limit's job (accounts/views.py).

State is in process memory, bounded (least recently used usernames are forgotten first): each gateway
replica throttles on its own, like the other limits in rate_limits.py.
"""

from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class _State:
    failures: int = 0
    blocked_until: float = 0.0
    #: Addresses this username signed in from, newest last.
    known: list[str] = field(default_factory=list)


@dataclass
class LoginThrottle:
    free: int = 3
    base_seconds: float = 1.0
    max_seconds: float = 300.0
    remembered_addresses: int = 5
    capacity: int = 100_000
    _states: OrderedDict[str, _State] = field(default_factory=OrderedDict)

    def wait(self, username: str, address: str, now: float) -> float:
        """Seconds this attempt must still wait (0: check the password now)."""
        state = self._states.get(username)
        if state is None or address in state.known:
            return 0.0
        return max(0.0, state.blocked_until - now)

    def failed(self, username: str, now: float) -> None:
        state = self._state(username)
        state.failures += 1
        over = state.failures - self.free
        if over > 0:
            state.blocked_until = now + min(self.max_seconds, self.base_seconds * 2 ** min(over - 1, 30))

    def succeeded(self, username: str, address: str) -> None:
        state = self._state(username)
        state.failures, state.blocked_until = 0, 0.0
        if address in state.known:
            state.known.remove(address)
        state.known = [*state.known, address][-self.remembered_addresses :]

    def _state(self, username: str) -> _State:
        state = self._states.pop(username, None) or _State()
        self._states[username] = state
        while len(self._states) > self.capacity:
            self._states.popitem(last=False)
        return state
