"""Turning a recurring problem into a proactive ticket (主动发现) through intake's normal path.

Intake owns tickets, so feedback asks it the way any system does: ``POST /api/v1/tickets`` at the gateway
with its own API key, channel ``proactive``, and ``Idempotency-Key: recurring-problem-<id>``. Chosen over a
request event because it needs no new topic or consumer: validation, idempotency, the trail and routing
are exactly those of every other ticket, and the key makes a retry after a lost answer return the same
ticket. The price is that the supervisor's click needs the gateway up (503 otherwise, safe to repeat).
"""

from typing import Any

import asyncpg
import httpx

CATEGORY_LABEL = "主动发现"


class GatewayRefused(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"the gateway answered {status}: {body[:300]}")
        self.status = status


def ticket_body(problem: asyncpg.Record, operator: str) -> dict[str, Any]:
    """The ticket intake is asked to create: at the problem's place, of its category."""
    reason = (
        f"{problem['dissatisfied']} 次回访不满意或未解决"
        if problem["reason"] == "dissatisfied"
        else f"{problem['requests']} 次重复诉求"
    )
    description = (
        f"{CATEGORY_LABEL}: 同一地点 ({problem['place_level']} {problem['place']}) 同类问题 ({problem['category']})"
        f" 反复出现, {problem['first_at']:%Y-%m-%d} 至 {problem['last_at']:%Y-%m-%d} 共 {reason};"
        f" 相关工单 {', '.join(problem['tickets'][:20])}。请主动排查并根治。(recurring problem #{problem['id']})"
    )
    location: dict[str, Any] = {}
    if problem["address"]:
        location["address"] = problem["address"]
    if problem["lat"] is not None and problem["lon"] is not None:
        location |= {"lat": problem["lat"], "lon": problem["lon"]}
    return {
        "channel": "proactive",
        "category": problem["category"],
        "description": description[:4000],
        "location": location,
        "operator": operator[:64],
    }


async def create_ticket(client: httpx.AsyncClient, api_key: str, problem: asyncpg.Record, operator: str) -> str:
    """The proactive ticket's id (the same one on a retry)."""
    response = await client.post(
        "/api/v1/tickets",
        json=ticket_body(problem, operator),
        headers={"X-API-Key": api_key, "Idempotency-Key": f"recurring-problem-{problem['id']}"},
    )
    if response.status_code not in {200, 201}:
        raise GatewayRefused(response.status_code, response.text)
    return str(response.json()["id"])
