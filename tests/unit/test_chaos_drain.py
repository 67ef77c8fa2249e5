"""The chaos drain's idea of progress (tests/chaos/harness.py moved): a hang is told from a long, moving
backlog."""

from tests.chaos.harness import moved


def test_a_count_reaching_a_new_low_is_progress_even_while_the_sum_rises() -> None:
    lows: dict[str, int] = {}
    assert not moved(lows, {"received": 900, "lag trail": 1_000})  # first sight: nothing to compare
    assert moved(lows, {"received": 850, "lag trail": 5_000})  # router routed; the trail has more to read
    assert not moved(lows, {"received": 850, "lag trail": 4_000})  # below nothing's low yet
    assert moved(lows, {"received": 850, "lag trail": 900})


def test_a_group_that_caught_up_counts_once_and_cannot_hide_a_hang() -> None:
    lows: dict[str, int] = {}
    moved(lows, {"received": 10, "lag sla": 3})
    assert moved(lows, {"received": 10})  # sla's group caught up: it dropped out of the counts
    assert not moved(lows, {"received": 10, "lag sla": 2})  # it fell behind again: no progress
    assert not moved(lows, {"received": 10})  # and caught up again: already seen at zero
    assert not moved(lows, {"received": 10, "lag router": 7})  # a new count is not progress either
