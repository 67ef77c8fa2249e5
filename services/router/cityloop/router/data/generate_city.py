"""Generates the city model (``city/*.csv``) deterministically: ``python -m cityloop.router.data.generate_city``.

Shanghai's 16 districts with real names; real street names where we know them (浦东, 黄浦),
generated names elsewhere. Space is a lattice of cells of about 450 m: districts are 4x4 blocks, streets,
communities and grids are nested rectangles inside them, one grid per cell, so coordinates resolve by
arithmetic. Every community lies along one road with a house-number range; its grids split that range,
so "road + number" resolves to a grid (numbers run to about 2000 per road). Departments: city and
district bureaus of every type, and four units per street (the street office, the enforcement squad,
the community work office, and the street's platform, which serves its communities and grids).
"""

import csv
import random
from dataclasses import dataclass
from pathlib import Path

OUT = Path(__file__).parent / "city"
SEED = 12345
BLOCK = 44  # cells per district side
ORIGIN_LAT, ORIGIN_LON = 30.70, 121.00
CELL_LAT, CELL_LON = 0.004, 0.0047  # ~450 m at 31°N

# code, name, short name, street count (~208 streets in all)
DISTRICTS = [
    ("bs", "宝山区", "宝山", 12),
    ("jd", "嘉定区", "嘉定", 12),
    ("cm", "崇明区", "崇明", 18),
    ("yp", "杨浦区", "杨浦", 12),
    ("pt", "普陀区", "普陀", 10),
    ("ja", "静安区", "静安", 14),
    ("hk", "虹口区", "虹口", 8),
    ("pd", "浦东新区", "浦东", 24),
    ("cn", "长宁区", "长宁", 10),
    ("xh", "徐汇区", "徐汇", 13),
    ("hp", "黄浦区", "黄浦", 10),
    ("mh", "闵行区", "闵行", 14),
    ("qp", "青浦区", "青浦", 11),
    ("sj", "松江区", "松江", 17),
    ("js", "金山区", "金山", 11),
    ("fx", "奉贤区", "奉贤", 12),
]
TOWN_DISTRICTS = {"bs", "jd", "cm", "mh", "qp", "sj", "js", "fx"}

REAL_STREETS = {
    "pd": [
        "花木街道",
        "陆家嘴街道",
        "潍坊新村街道",
        "塘桥街道",
        "洋泾街道",
        "金杨新村街道",
        "沪东新村街道",
        "浦兴路街道",
        "东明路街道",
        "上钢新村街道",
        "南码头路街道",
        "周家渡街道",
        "三林镇",
        "北蔡镇",
        "张江镇",
        "川沙新镇",
        "高桥镇",
        "高行镇",
        "金桥镇",
        "唐镇",
        "曹路镇",
        "康桥镇",
        "周浦镇",
        "惠南镇",
    ],
    "hp": [
        "南京东路街道",
        "外滩街道",
        "半淞园路街道",
        "小东门街道",
        "豫园街道",
        "老西门街道",
        "五里桥街道",
        "打浦桥街道",
        "淮海中路街道",
        "瑞金二路街道",
    ],
}
# Real roads of 花木街道, so the examples people know resolve (锦绣路1001号 is a real address there).
REAL_ROADS = {"pd-s01": ["锦绣路", "花木路", "芳甸路", "梅花路", "东绣路", "白杨路"]}

SYLLABLES = list(
    "安宝长昌春大德东丰福富广贵海和恒红华欢吉嘉建江金锦景静康乐利莲林龙隆罗茂美民明南宁平浦祁庆仁荣瑞润山"
    "盛石寿顺松泰桃天通同万望文武西祥新兴秀旭延扬阳怡益永友裕园远云泽樟真振中州竹紫"
)
COMMUNITY_SUFFIXES = ["苑", "小区", "新村", "花园", "家园", "公寓", "居民区", "名邸", "雅苑", "村"]
ROAD_SUFFIXES = ["路", "路", "路", "街", "大道", "公路"]

DISTRICT_UNITS = {
    "ops": "{d}城市运行管理中心",
    "housing": "{d}房屋管理局",
    "sanitation": "{d}绿化和市容管理局",
    "transport": "{d}建设和交通委员会",
    "water": "{d}水务局",
    "power": "{d}供电公司",
    "gas": "{d}燃气公司",
    "environment": "{d}生态环境局",
    "market": "{d}市场监督管理局",
    "health": "{d}卫生健康委员会",
    "hrss": "{d}人力资源和社会保障局",
    "civil": "{d}民政局",
    "education": "{d}教育局",
    "emergency": "{d}应急管理局",
    "police": "{d}公安分局",
    "enforcement": "{d}城市管理行政执法局",
}
CITY_UNITS = {
    "ops": "市城市运行管理中心",
    "housing": "市住房和城乡建设管理委员会",
    "sanitation": "市绿化和市容管理局",
    "transport": "市交通委员会",
    "water": "市水务局",
    "power": "国网上海市电力公司",
    "gas": "上海燃气有限公司",
    "environment": "市生态环境局",
    "market": "市市场监督管理局",
    "health": "市卫生健康委员会",
    "hrss": "市人力资源和社会保障局",
    "civil": "市民政局",
    "education": "市教育委员会",
    "emergency": "市应急管理局",
    "police": "市公安局",
    "enforcement": "市城市管理行政执法局",
}
STREET_UNITS = {"street": "{s}办事处", "enforcement": "{s}城管执法中队", "community": "{s}社区（居委会）工作办"}
#: The street's platform (街镇网格化综合管理中心): its code is the street's own, its topic dept.<street>.tasks
#: carries the tasks of the street's residents' committees and grid teams (五级应用).
STREET_PLATFORM = "{s}网格化综合管理中心"


@dataclass(frozen=True)
class Rect:
    row: int
    col: int
    height: int
    width: int

    @property
    def area(self) -> int:
        return self.height * self.width


def split(rect: Rect, n: int) -> list[Rect]:
    """Split ``rect`` into ``n`` rectangles of nearly equal area by recursive bisection."""
    if n == 1:
        return [rect]
    first = n // 2
    if rect.height >= rect.width:
        cut = max(1, min(rect.height - 1, round(rect.height * first / n)))
        a, b = Rect(rect.row, rect.col, cut, rect.width), Rect(rect.row + cut, rect.col, rect.height - cut, rect.width)
    else:
        cut = max(1, min(rect.width - 1, round(rect.width * first / n)))
        a, b = Rect(rect.row, rect.col, rect.height, cut), Rect(rect.row, rect.col + cut, rect.height, rect.width - cut)
    return split(a, first) + split(b, n - first)


class Names:
    """Unique generated names: two syllables and a suffix, never the same twice in the city."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def take(self, suffixes: list[str], reserved: set[str] | None = None) -> str:
        while True:
            a, b = self._rng.sample(SYLLABLES, 2)
            name = f"{a}{b}{self._rng.choice(suffixes)}"
            if name not in self._used and not (reserved and name in reserved):
                self._used.add(name)
                return name


def cells(rect: Rect) -> list[tuple[int, int]]:
    return [(r, c) for r in range(rect.row, rect.row + rect.height) for c in range(rect.col, rect.col + rect.width)]


def generate() -> dict[str, list[list[str]]]:
    rng = random.Random(SEED)
    names = Names(rng)
    real_names = {n for ns in REAL_STREETS.values() for n in ns} | {r for rs in REAL_ROADS.values() for r in rs}
    tables: dict[str, list[list[str]]] = {
        "districts": [["code", "name", "short_name", "row", "col", "height", "width"]],
        "streets": [["code", "name", "district"]],
        "communities": [["code", "name", "street"]],
        "grids": [["code", "community", "row", "col", "road", "num_lo", "num_hi"]],
        "departments": [["code", "name", "type", "level", "district", "street"]],
    }
    for dtype, name in CITY_UNITS.items():
        tables["departments"].append([f"city-{dtype}", name, dtype, "city", "", ""])
    for index, (dcode, dname, short, n_streets) in enumerate(DISTRICTS):
        block = Rect((index // 4) * BLOCK, (index % 4) * BLOCK, BLOCK, BLOCK)
        tables["districts"].append([dcode, dname, short, *map(str, (block.row, block.col, block.height, block.width))])
        for dtype, pattern in DISTRICT_UNITS.items():
            tables["departments"].append([f"{dcode}-{dtype}", pattern.format(d=dname), dtype, "district", dcode, ""])
        real = REAL_STREETS.get(dcode, [])
        for s_index, s_rect in enumerate(split(block, n_streets)):
            scode = f"{dcode}-s{s_index + 1:02d}"
            if s_index < len(real):
                sname = real[s_index]
            else:
                suffixes = ["镇"] if dcode in TOWN_DISTRICTS and rng.random() < 0.7 else ["街道"]
                sname = names.take(suffixes, real_names)
            tables["streets"].append([scode, sname, dcode])
            tables["departments"].append([scode, STREET_PLATFORM.format(s=sname), "platform", "street", dcode, scode])
            for utype, pattern in STREET_UNITS.items():
                suffix = "office" if utype == "street" else utype
                tables["departments"].append(
                    [f"{scode}-{suffix}", pattern.format(s=sname), utype, "street", dcode, scode]
                )
            n_comms = max(1, min(s_rect.area // 3, rng.randint(16, 24)))
            roads = list(REAL_ROADS.get(scode, [])) or [names.take(ROAD_SUFFIXES, real_names) for _ in range(5)]
            c_rects = split(s_rect, n_comms)
            # Each road's numbers run up to about 2000 whatever its length: steps of 10 or more.
            road_cells = dict.fromkeys(roads, 0)
            for c_index, c_rect in enumerate(c_rects):
                road_cells[roads[c_index % len(roads)]] += c_rect.area
            step = {road: max(10, 2000 // max(1, count) // 10 * 10) for road, count in road_cells.items()}
            next_number = dict.fromkeys(roads, 1)
            for c_index, c_rect in enumerate(c_rects):
                ccode = f"{scode}-c{c_index + 1:02d}"
                tables["communities"].append([ccode, names.take(COMMUNITY_SUFFIXES, real_names), scode])
                road = roads[c_index % len(roads)]
                for g_index, (row, col) in enumerate(cells(c_rect)):
                    lo = next_number[road]
                    next_number[road] = lo + step[road]
                    tables["grids"].append(
                        [
                            f"{ccode}-g{g_index + 1:02d}",
                            ccode,
                            str(row),
                            str(col),
                            road,
                            str(lo),
                            str(lo + step[road] - 1),
                        ]
                    )
    return tables


def write(tables: dict[str, list[list[str]]], out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        with (out / f"{name}.csv").open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows(rows)


if __name__ == "__main__":
    generated = generate()
    write(generated)
    print({name: len(rows) - 1 for name, rows in generated.items()})
