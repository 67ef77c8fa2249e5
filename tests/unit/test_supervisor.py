"""`make run`'s supervisor with tiny fake children: a crashing child is restarted with a growing backoff,
stop() ends everything."""

import sys

from scripts.supervisor import Supervisor, next_delay

from tests.fake_clock import FakeClock

CRASH = [sys.executable, "-c", "import sys; sys.exit(1)"]
SLEEP = [sys.executable, "-c", "import time; time.sleep(120)"]


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [next_delay(n) for n in range(1, 8)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def wait_dead(supervisor: Supervisor, name: str) -> None:
    process = supervisor.state[name].process
    assert process is not None
    process.wait(timeout=60)


def test_a_crashing_child_is_restarted_with_backoff_and_the_others_keep_running() -> None:
    clock = FakeClock()
    supervisor = Supervisor({"crashy": CRASH, "steady": SLEEP}, env={}, clock=clock)
    supervisor.start()
    steady = supervisor.state["steady"].process
    try:
        wait_dead(supervisor, "crashy")
        supervisor.tick()  # noticed: restart due in 1 s
        crashy = supervisor.state["crashy"]
        assert (crashy.crashes, crashy.restarts, crashy.restart_at) == (1, 0, 1.0)
        supervisor.tick()  # not yet due
        assert crashy.restarts == 0
        clock.now = 1.0
        supervisor.tick()
        assert crashy.restarts == 1
        wait_dead(supervisor, "crashy")
        supervisor.tick()
        assert (crashy.crashes, crashy.restart_at) == (2, 3.0)  # crashed again at once: 2 s this time
        clock.now = 3.0
        supervisor.tick()
        assert crashy.restarts == 2
        assert steady is supervisor.state["steady"].process
        assert steady is not None
        assert steady.poll() is None
    finally:
        supervisor.stop()
    assert steady.poll() is not None
    assert all(c.process is not None and c.process.poll() is not None for c in supervisor.state.values())


def test_a_child_that_stayed_up_a_while_starts_its_backoff_afresh() -> None:
    clock = FakeClock()
    supervisor = Supervisor({"crashy": CRASH}, env={}, clock=clock, healthy_after=30.0)
    supervisor.start()
    crashy = supervisor.state["crashy"]
    try:
        crashy.crashes = 4  # as if it had crashed 4 times in a row before this run
        wait_dead(supervisor, "crashy")
        clock.now = 100.0  # ...but this run lasted 100 s
        supervisor.tick()
        assert (crashy.crashes, crashy.restart_at) == (1, 101.0)
    finally:
        supervisor.stop()
