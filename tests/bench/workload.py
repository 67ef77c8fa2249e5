"""The tickets the HTTP benchmarks create: the call-taker's form as the README shows it, spread over the
grids of one district (a surge's shape: BENCH_DISTRICT, default pd) and a mix of categories (some merge into
open cases (并单), some never do), so routing does its real work: place the address, route, find or open a
case, assign, announce."""

import os
import random
from typing import Any

from cityloop.common.topics import TopicSpec, dept_tasks
from cityloop.router.data.files import city_files

DISTRICT = os.environ.get("BENCH_DISTRICT", "pd")

#: (category, what the citizen says); merging ones first, then ones that never merge ([0, 0] in the catalogue).
CATEGORIES = [
    ("sanitation.garbage", "小区门口垃圾三天没人清运，气味很大"),
    ("transport.pothole", "路面有一个大坑，电动车经过很危险"),
    ("water.drain-blocked", "下水道堵了，污水漫到人行道上"),
    ("enforcement.street-vendor", "路口有流动摊贩占道经营，影响通行"),
    ("community.neighbour-noise", "楼上邻居每天深夜装修噪音扰民"),
    ("transport.streetlight", "这段路的路灯坏了一个星期了，晚上很黑"),
    ("housing.property.service", "物业不处理楼道堆物，多次反映无果"),
    ("market.consumer.refund", "在商场买的电器坏了商家拒绝退货"),
    ("hrss.labor-contract", "公司不签劳动合同，想咨询怎么维权"),
]


def ticket_bodies(count: int, seed: int = 12345) -> list[dict[str, Any]]:
    """``count`` ticket bodies, each at another grid of the city (round robin over a shuffled grid list)."""
    files = city_files()
    districts = {d.code: d.name for d in files.districts}
    grids = [g for g in files.grids if g.code.startswith(f"{DISTRICT}-")]
    random.Random(seed).shuffle(grids)
    bodies = []
    for i in range(count):
        grid = grids[i % len(grids)]
        district = districts[grid.code.split("-", 1)[0]]
        category, description = CATEGORIES[i % len(CATEGORIES)]
        bodies.append(
            {
                "channel": "hotline",
                "citizen": {"name": "张三", "phone": f"138{i % 100_000_000:08d}"},
                "category": category,
                "description": description,
                "location": {"address": f"{district}{grid.road}{grid.num_lo + i % 7}号"},
            }
        )
    return bodies


def task_topics() -> list[TopicSpec]:
    """The task topics of the departments the workload can reach (the district's and the city's): a
    deployment creates them at start (router's CITYLOOP_ROUTER_TASK_TOPICS_AT_START)."""
    codes = [d.code for d in city_files().departments if d.code.startswith((f"{DISTRICT}-", "city-"))]
    return [dept_tasks(code) for code in codes]
