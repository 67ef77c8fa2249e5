"""Ticket ids, taken from the database's sequence a block at a time.

One round trip per BLOCK tickets instead of one per ticket. Numbers stay unique across replicas (the
sequence hands each block to one process); they are no longer strictly in creation order across replicas,
and a block's unused numbers are skipped when a process stops, as numbers of rolled-back transactions
always were.
"""

import asyncio
import weakref
from collections import deque
from datetime import datetime
from zoneinfo import ZoneInfo

from cityloop.common.db.pool import PgPool
from cityloop.intake.tickets import store

BLOCK = 50
#: The hotline's day, for the date in the id.
CITY_TIME = ZoneInfo("Asia/Shanghai")


class TicketNumbers:
    def __init__(self, block: int = BLOCK) -> None:
        self._block = block
        self._free: deque[int] = deque()
        self._lock = asyncio.Lock()

    async def next_id(self, pool: PgPool) -> str:
        if not self._free:
            async with self._lock:  # one refill at a time; the others find it done
                if not self._free:
                    async with pool.acquire() as conn:
                        self._free.extend(await store.reserve_ticket_numbers(conn, self._block))
        return store.ticket_number(self._free.popleft(), datetime.now(CITY_TIME).strftime("%Y%m%d"))


#: Per pool, since tests run several databases (each with its own sequence) in one process.
_BY_POOL: "weakref.WeakKeyDictionary[PgPool, TicketNumbers]" = weakref.WeakKeyDictionary()


def numbers_for(pool: PgPool) -> TicketNumbers:
    numbers = _BY_POOL.get(pool)
    if numbers is None:
        numbers = _BY_POOL[pool] = TicketNumbers()
    return numbers
