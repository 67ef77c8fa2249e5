"""Steady load through the real front doors: tickets by the HTTP API (idempotent retries) and by Open311,
department answers over Kafka (accept, progress, resolve, as tests/dept_system.py's outside integrator
would send them), and the callback desk recording outcomes. Each keeps its own record of what it sent,
for the invariants."""

import asyncio
import contextlib
import json
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from cityloop.intake.demo import DEMO_API_KEY, DEMO_OPEN311_KEY
from cityloop.router.data.files import city_files
from cityloop.router.masterdata.model import cell_centre
from tests.chaos.invariants import Update
from tests.dept_system import cloud_event

CATEGORIES = ("sanitation.garbage", "transport.pothole")
#: The answers a department sends for each of its tasks, in this order.
STEPS = ("cityloop.dept.accepted", "cityloop.dept.progress", "cityloop.dept.resolved")
NAMESPACE = uuid.UUID("6f1c2d0e-4b1a-4c55-9a51-2f0c7c3e0d13")
#: Failures in a row (sends, or polls) after which the responder replaces that Kafka client.
RENEW_AFTER = 5
#: How long the responder keeps sending scheduled answers after it was told to stop.
STOP_GRACE_SECONDS = 120.0
ClientT = TypeVar("ClientT", AIOKafkaConsumer, AIOKafkaProducer)


def places(rng: random.Random) -> Iterator[tuple[str, float, float]]:
    """Addresses (with their point) over every district's grids, in a seeded order."""
    files = city_files()
    names = {d.code: d.name for d in files.districts}
    grids = list(files.grids)
    rng.shuffle(grids)
    while True:
        for grid in grids:
            lat, lon = cell_centre(grid.row, grid.col)
            yield f"{names[grid.code.split('-')[0]]}{grid.road}{grid.num_lo}号", lat, lon


@dataclass
class TicketLoad:
    """What the ticket driver sent and what intake answered."""

    accepted: dict[str, str] = field(default_factory=dict)  # ticket id -> its description (unique per request)
    channels: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    retried: int = 0
    #: Open311 posts whose answer was lost (the connection broke after sending): intake may hold them.
    ambiguous: int = 0
    refused: list[str] = field(default_factory=list)  # a 4xx that is not back-pressure: a bug in the driver


class TicketDriver:
    def __init__(self, gateway: str, rate: float, rng: random.Random, *, open311_share: float = 0.3) -> None:
        self._gateway = gateway
        self._rate = rate
        self._rng = rng
        self._open311_share = open311_share
        self._places = places(rng)
        self.load = TicketLoad()
        self._client = _client(gateway)

    async def run(self, stop: asyncio.Event) -> None:
        """Creates tickets at ``rate`` per second until ``stop``; requests begun then are finished."""
        # Enough requests in flight that the asked rate holds while intake answers in up to ~2 s (the whole
        # stack shares two cores in a long run): callers do not wait for the city to be less busy.
        workers = max(16, int(self._rate * 2))
        queue: asyncio.Queue[tuple[str, dict[str, str], str] | None] = asyncio.Queue(maxsize=workers * 4)

        async def work() -> None:
            while (item := await queue.get()) is not None:
                await self._create(*item)

        tasks = [asyncio.create_task(work()) for _ in range(workers)]
        started = time.monotonic()
        made = 0
        while not stop.is_set():
            made += 1
            await queue.put(self._next())
            delay = started + made / self._rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        for _ in tasks:
            await queue.put(None)
        await asyncio.gather(*tasks)
        await self._client.close()

    def _next(self) -> tuple[str, dict[str, str], str]:
        address, lat, lon = next(self._places)
        category = self._rng.choice(CATEGORIES)
        text = f"混沌测试 {uuid.uuid4().hex[:10]}"
        if self._rng.random() < self._open311_share:
            form = {
                "api_key": DEMO_OPEN311_KEY,
                "service_code": category,
                "lat": f"{lat:.6f}",
                "long": f"{lon:.6f}",
                "address_string": address,
                "description": text,
                "phone": "13900001111",
            }
            if category == "transport.pothole":
                form["attribute[size]"] = "large"  # required by the service definition (坑洼大小)
            return "open311", form, ""  # description: the form's own field
        body = {
            "channel": "hotline",
            "citizen": {"name": "测试", "phone": "13812341234"},
            "category": category,
            "description": text,
            "location": {"address": address},
        }
        return "api", {"json": json.dumps(body, ensure_ascii=False), "description": text}, str(uuid.uuid4())

    async def _create(self, channel: str, payload: dict[str, str], key: str) -> None:
        description = payload["description"]
        for attempt in range(200):
            self.load.attempts += 1
            if attempt:
                self.load.retried += 1
                await asyncio.sleep(min(0.2 * attempt, 2.0))
            try:
                if channel == "api":
                    request = self._client.post(
                        "/api/v1/tickets",
                        data=payload["json"].encode(),
                        headers={"Idempotency-Key": key, "Content-Type": "application/json"},
                    )
                else:
                    request = self._client.post("/open311/v2/requests.json", data=payload)
                async with request as response:
                    status = response.status
                    body = await response.json() if status in (200, 201) else None
                    text = "" if body is not None else (await response.text())[:300]
            except aiohttp.ClientConnectorError:
                continue  # intake is down: nothing was sent, try again
            except (TimeoutError, aiohttp.ClientError):
                if channel == "api":
                    continue  # the Idempotency-Key makes the retry return the same ticket
                self.load.ambiguous += 1
                return
            if body is not None:
                ticket_id = body["id"] if channel == "api" else body[0]["service_request_id"]
                self.load.accepted[ticket_id] = description
                self.load.channels[channel] += 1
                return
            if status in (429, 502, 503, 504) or status >= 500:
                if channel == "open311" and status == 500:
                    self.load.ambiguous += 1  # failed after it may have stored the request
                    return
                continue
            self.load.refused.append(f"{channel} {status}: {text}")
            return
        self.load.refused.append(f"{channel}: gave up after 200 attempts")


@dataclass
class DeptLoad:
    tasks_seen: dict[str, str] = field(default_factory=dict)  # assignment id -> ticket id (lead tasks)
    sent: list[Update] = field(default_factory=list)
    send_failures: int = 0
    #: Answers still scheduled when the drain gave up waiting for them (the report says so; never silent).
    abandoned: int = 0
    #: Unprocessable updates sent on purpose, by Kafka key: each must land in dept.updates.dlq with a reason.
    poison: dict[str, str] = field(default_factory=dict)


class DeptResponder:
    """Every department at once: reads all ``dept.*.tasks`` topics and answers each lead task, after a
    seeded delay, with accepted, progress and resolved (deterministic event ids, so a resend is the same
    event). Per ticket the answers go out one after the other, each only after the previous was acked."""

    def __init__(
        self, bootstrap: str, prefix: str, rng: random.Random, *, accept_delay: tuple[float, float] = (0.5, 25.0)
    ) -> None:
        self._bootstrap = bootstrap
        self._prefix = prefix
        self._rng = rng
        self._accept_delay = accept_delay
        self.load = DeptLoad()
        self._due: list[tuple[float, int, dict[str, Any], int]] = []
        self._seq = 0
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self._failed_sends = 0

    @property
    def pending(self) -> int:
        return len(self._due)

    async def run(self, stop: asyncio.Event) -> None:
        consumer = self._new_consumer()
        self._producer = self._new_producer()
        await consumer.start()
        await self._producer.start()
        sender = asyncio.create_task(self._send_due(stop))
        failed_polls = 0
        try:
            await self._poison()
            while not stop.is_set():
                try:
                    batch = await consumer.getmany(timeout_ms=500, max_records=500)
                    failed_polls = 0
                except Exception:  # the broker is restarting: aiokafka reconnects on the next call
                    failed_polls += 1
                    if failed_polls % RENEW_AFTER == 0:
                        consumer = await self._renewed(consumer, self._new_consumer)
                    await asyncio.sleep(1.0)
                    continue
                for records in batch.values():
                    for record in records:
                        self._take(json.loads(record.value))
            await sender
        finally:
            sender.cancel()
            await consumer.stop()
            await self._producer.stop()

    def _new_consumer(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=f"{self._prefix}chaos-departments",
            auto_offset_reset="earliest",
            # A topic made later is read from its start when found, so nothing is missed by looking every 5 s.
            metadata_max_age_ms=5_000,
            session_timeout_ms=10_000,
            # Every fetch lists all ~1,100 task partitions (~13 ms of CPU in aiokafka, whatever it carries):
            # fuller, rarer fetches, as router's pattern consumer does (README Settings). An answer's seeded
            # delay is seconds; one more second of waiting changes nothing the invariants check.
            fetch_min_bytes=16_384,
            fetch_max_wait_ms=1_000,
        )
        consumer.subscribe(pattern=f"^{re.escape(self._prefix)}dept\\..+\\.tasks$")
        return consumer

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap, acks="all", enable_idempotence=True, request_timeout_ms=10_000
        )

    @staticmethod
    async def _renewed(old: ClientT, make: Callable[[], ClientT]) -> ClientT:
        """A fresh client for one that keeps failing: after a broker crashed (kill -9), a client of this
        harness once never recovered (a short run hung in its drain with answers failing for good)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(old.stop(), 10)
        new = make()
        with contextlib.suppress(Exception):
            await new.start()
        return new

    def _take(self, event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        if event.get("type") != "cityloop.task.assigned" or data.get("role") != "lead":
            return
        assignment = data["assignment_id"]
        if assignment in self.load.tasks_seen:
            return  # a redelivered task (a rebalance, a restarted broker): answered once already
        self.load.tasks_seen[assignment] = data["ticket_id"]
        self._schedule(data, 0, self._rng.uniform(*self._accept_delay))

    def _schedule(self, task: dict[str, Any], step: int, delay: float) -> None:
        self._seq += 1
        self._due.append((time.monotonic() + delay, self._seq, task, step))
        self._wake.set()

    async def _send_due(self, stop: asyncio.Event) -> None:
        """Sends what is due; after ``stop`` it keeps going until nothing is scheduled any more (or
        STOP_GRACE_SECONDS have passed: a drain must end even if an answer cannot get through)."""
        stopped_at: float | None = None
        while not (stop.is_set() and not self._due):
            if stop.is_set():
                stopped_at = stopped_at or time.monotonic()
                if time.monotonic() - stopped_at > STOP_GRACE_SECONDS:
                    self.load.abandoned = len(self._due)
                    return
            if self._failed_sends >= RENEW_AFTER:
                self._failed_sends = 0
                self._producer = await self._renewed(self._producer, self._new_producer)
            now = time.monotonic()
            ready = [item for item in self._due if item[0] <= now]
            if not ready:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 0.2)
                continue
            self._due = [item for item in self._due if item[0] > now]
            await asyncio.gather(*(self._send(task, step) for _, _, task, step in ready))

    async def _send(self, task: dict[str, Any], step: int) -> None:
        type_ = STEPS[step]
        data = {"ticket_id": task["ticket_id"], "assignment_id": task["assignment_id"], "dept_code": task["dept_code"]}
        if type_ != "cityloop.dept.accepted":
            data["note"] = "处理中" if type_ == "cityloop.dept.progress" else "已处理"
        event_id = str(uuid.uuid5(NAMESPACE, f"{task['assignment_id']}:{type_}"))
        event = cloud_event(type_, data, event_id=event_id)
        try:
            await asyncio.wait_for(self._produce(task["ticket_id"], json.dumps(event).encode()), 15)
        except Exception:
            self.load.send_failures += 1
            self._failed_sends += 1
            self._schedule(task, step, 1.0)  # the same event again: the inbox makes a repeat a no-op
            return
        self._failed_sends = 0
        self.load.sent.append(Update(event_id, task["ticket_id"], task["assignment_id"], type_))
        if step + 1 < len(STEPS):
            self._schedule(task, step + 1, self._rng.uniform(0.2, 3.0))

    async def _produce(self, key: str, value: bytes) -> None:
        assert self._producer is not None, "run() makes the producer"
        await self._producer.send_and_wait(
            f"{self._prefix}dept.updates",
            value,
            key=key.encode(),
            headers=[("content-type", b"application/cloudevents+json")],
        )

    async def _poison(self) -> None:
        """A few updates no consumer can apply: each must end in the DLQ with its reason, not vanish."""
        stranger = {"ticket_id": "T-chaos-unknown", "assignment_id": "A-none", "dept_code": "pd-sanitation"}
        poisons = {
            "malformed-json": b"{not json",
            "wrong-envelope": json.dumps({"hello": "world"}).encode(),
            "unknown-ticket": json.dumps(cloud_event("cityloop.dept.accepted", stranger)).encode(),
        }
        for name, value in poisons.items():
            key = f"chaos-poison-{name}"
            await self._produce(key, value)
            self.load.poison[key] = name


@dataclass
class CallbackLoad:
    #: By callback id, not ticket: a ticket may be called back twice (a 重办, an overdue callback), and a desk
    #: that skipped a ticket it had called once skipped the oldest due callbacks forever (the API lists them
    #: oldest first), so it recorded nothing more.
    recorded: set[int] = field(default_factory=set)
    failures: Counter[str] = field(default_factory=Counter)  # why a call failed (an outage, a status code)


class CallbackDesk:
    """The hotline's callback operators: records 'solved, satisfied' for every callback that comes due."""

    def __init__(self, gateway: str) -> None:
        self._client = _client(gateway)
        self.load = CallbackLoad()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                await self.round()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
        finally:
            await self._client.close()

    async def round(self) -> int:
        try:
            async with self._client.get("/api/v1/callbacks/due", params={"limit": 200}) as response:
                status = response.status
                items = (await response.json())["items"] if status == 200 else []
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.load.failures[type(exc).__name__] += 1
            return 0
        if status != 200:
            self.load.failures[f"due {status}"] += 1
            return 0
        due = [(c["id"], c["ticket_id"]) for c in items if c["id"] not in self.load.recorded]
        results = await asyncio.gather(*(self._record(callback_id, ticket_id) for callback_id, ticket_id in due))
        return sum(results)

    async def _record(self, callback_id: int, ticket_id: str) -> int:
        try:
            async with self._client.post(
                f"/api/v1/callbacks/{ticket_id}/outcome", json={"solved": True, "satisfaction": "satisfied"}
            ) as response:
                status = response.status
                await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.load.failures[type(exc).__name__] += 1
            return 0
        if status == 200:
            self.load.recorded.add(callback_id)
            return 1
        self.load.failures[f"outcome {status}"] += 1
        return 0


def _client(gateway: str) -> aiohttp.ClientSession:
    """The harness's HTTP client as the hotline's own systems would hold one. aiohttp rather than httpx: the
    load generator shares the machine with the stack it loads, and httpx took ~12x the CPU per request
    (intake/upstream.py), a quarter of the machine at 25 tickets/s."""
    return aiohttp.ClientSession(
        base_url=gateway, timeout=aiohttp.ClientTimeout(total=10.0), headers={"X-API-Key": DEMO_API_KEY}
    )
