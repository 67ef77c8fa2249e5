"""Surge detection end to end: tickets through intake and router, counted by feedback's stream worker in
its own process, proposals on control.mode, hot spots served by feedback; and a worker restart in the
middle, after which both tables carry on from their changelogs."""

import asyncio
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from cityloop.common.topics import all_topics, ensure_topics, full_name
from tests.conftest import TOPIC_PREFIX
from tests.integration.conftest import Loop
from tests.integration.emergency_support import command_centre, rehomed
from tests.integration.routing_support import address_in, create, ticket
from tests.integration.signals_support import proposals, worker


@pytest.fixture(scope="session")
async def topics_listed(kafka: str) -> None:
    """This session's contract topics exist and the broker lists them before the services start: a broker
    holding thousands of topics has taken minutes to list a new one, longer than the loop waits for its
    consumers to join."""
    await ensure_topics(kafka, TOPIC_PREFIX, all_topics())
    wanted = {full_name(s.name, TOPIC_PREFIX) for s in all_topics()}
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        async with asyncio.timeout(600):
            while True:
                if wanted <= set(await admin.list_topics()):
                    return
                await asyncio.sleep(1)
    finally:
        await admin.close()


async def street_count(client: httpx.AsyncClient, district: str, street: str, category: str, want: int) -> None:
    """Until feedback serves ``want`` tickets of ``category`` in ``street`` over the last 24 hours."""
    group = category.split(".", maxsplit=1)[0]
    params = {"period": "day", "level": "street", "district": district, "category_group": group}
    seen = None
    try:
        async with asyncio.timeout(300):
            while True:
                response = await client.get("/api/v1/hotspots", params=params)
                assert response.status_code == 200, response.text
                counts = {(i["area"], i["category"]): i["count"] for i in response.json()["items"]}
                seen = counts.get((street, category))
                if seen == want:
                    return
                await asyncio.sleep(0.3)
    except TimeoutError:
        raise AssertionError(f"{street} {category}: {seen} tickets served, expected {want}") from None


async def test_a_surge_in_one_street_proposes_once_a_quiet_area_never_and_a_restart_loses_nothing(
    topics_listed: None, loop: Loop, kafka: str, tmp_path: Path
) -> None:
    async with worker(tmp_path / "signals.log") as signals:
        # Twelve burst water pipes in one street within minutes (four places, so most merge into cases).
        for i in range(12):
            await create(loop, ticket("路边水管爆了水一直往外冒", address_in("jd-s03", i % 4), "water.pipe-burst"))
        # Four flooded spots in a quiet street elsewhere (one no other test of the session uses): under any threshold.
        for i in range(4):
            await create(loop, ticket("小区门口积水很深没法走", address_in("bs-s11", i), "water.flooding"))
        await street_count(loop.feedback, "jd", "jd-s03", "water.pipe-burst", 12)
        await street_count(loop.feedback, "bs", "bs-s11", "water.flooding", 4)

        found = await proposals(kafka, TOPIC_PREFIX)
        surge = [(key, p) for key, p in found if (p.district, p.category_group) == ("jd", "water")]
        assert len(surge) == 1, [p.name for _, p in found]
        key, p = surge[0]
        assert key == p.proposal_id.encode()  # keyed by proposal id on the compacted control.mode
        assert (p.street, p.scope.streets, p.scope.districts) == ("jd-s03", ["jd-s03"], [])
        # The 10th ticket crossed the threshold of a street with no history: max(10, 3 x floor 2).
        assert (p.count, p.threshold, p.baseline, p.suggested_level) == (10, 10, 0.0, "IV")
        assert p.categories == ["water.pipe-burst"]
        assert p.by_category == {"water.pipe-burst": 10}
        assert p.window_seconds == 3600
        # The quiet street proposes nothing (other tests of the session may surge elsewhere in bs).
        assert not [p for _, p in found if p.street == "bs-s11" or "bs-s11" in p.scope.streets]
        assert 'cityloop_surge_proposals_total{category_group="water"} 1.0' in await signals.metrics()

        # Restart the worker mid-surge: the tables come back from their changelogs.
        await signals.restart()
        for i in range(10):
            body = ticket("又一处水管爆裂路面全是水", address_in("jd-s03", i % 4, offset=1), "water.pipe-burst")
            await create(loop, body)
        # 22, not 10: the hot-spot table kept the 12 from before the restart.
        await street_count(loop.feedback, "jd", "jd-s03", "water.pipe-burst", 22)
        found = await proposals(kafka, TOPIC_PREFIX)
        # Still one: the surge table remembers the surge is under way (a fresh one would propose at the 10th).
        assert [p.proposal_id for _, p in found if (p.district, p.category_group) == ("jd", "water")] == [p.proposal_id]

    # The command centre sees the proposal and confirms it: a declaration prefilled from it.
    await confirm_proposal(loop, p.proposal_id, "jd-s03")


async def confirm_proposal(loop: Loop, proposal_id: str, street: str) -> None:
    async with command_centre(loop) as command:
        async with asyncio.timeout(60):
            while True:
                listed = (await command.get("/api/v1/emergencies/proposals")).json()
                if proposal_id in {i["id"] for i in listed["items"]}:
                    break
                await asyncio.sleep(0.2)
        confirmed = await command.post(f"/api/v1/emergencies/proposals/{proposal_id}/confirm")
        assert confirmed.status_code == 201, confirmed.text
        declared = confirmed.json()
        assert (declared["proposal_id"], declared["scope"]["streets"], declared["status"]) == (
            proposal_id,
            [street],
            "active",
        )
        assert declared["categories"] == ["water.pipe-burst"]
        assert (await command.post(f"/api/v1/emergencies/{declared['id']}/stand-down")).status_code == 200
    await rehomed(loop)
