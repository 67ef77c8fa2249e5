"""Realistic labelled citizen requests, generated from the catalogue's phrasings: many ways to say each
thing, with openers and closings, places, repetitions, typos (homophones, dropped characters), and some
requests that mention a second matter (labelled with the first, the one the citizen called about).

Feeds the classifier's seed training, the tests, demos and the evaluation. Deterministic per seed.
"""

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cityloop.router.data.files import training_phrasings
from cityloop.router.dispatch.location import address_key
from cityloop.router.masterdata.model import Grid, MasterData

OPENERS = [
    "",
    "",
    "",
    "你好，",
    "您好，我想反映一个问题，",
    "我要投诉，",
    "请问一下，",
    "我是附近的居民，",
    "麻烦帮忙处理一下：",
    "市民来电反映：",
    "来电人称，",
    "我想问一下，",
    "喂，你好，",
    "实在没办法了才打电话，",
    # how a call-taker types it up
    "市民来电反映：",
    "来电人称",
    "来电人称：",
    "市民反映：",
    "市民反映",
    "来电人反映：",
    "来电者表示，",
    "市民来电：",
    "市民急电：",
    "市民来电咨询：",
    "来电人（女）反映：",
    "来电人（男，姓王）称：",
    "市民张女士来电反映：",
    "市民李先生来电称，",
]
PLACES = [
    "我家楼下",
    "小区门口",
    "小区里面",
    "路口",
    "菜场旁边",
    "学校附近",
    "地铁站附近",
    "我们单位附近",
    "公交站边上",
    "商场后面",
    "公园门口",
    "隔壁楼",
    "我们这条街上",
]
#: roads and how people give an address: noise the model must learn to ignore
ROADS = [
    "长宁路",
    "中山北路",
    "罗阳街",
    "共和新路",
    "金沙江路",
    "浦东大道",
    "漕溪路",
    "沪太路",
    "江川路",
    "人民路",
    "解放路",
    "建国西路",
    "四平路",
    "新村路",
    "曹杨路",
    "张杨路",
    "虹梅路",
    "龙华中路",
    "淞滨路",
    "南京东路",
]
DISTRICTS = [
    "宝山区",
    "嘉定区",
    "杨浦区",
    "普陀区",
    "静安区",
    "虹口区",
    "浦东新区",
    "长宁区",
    "徐汇区",
    "黄浦区",
    "闵行区",
    "青浦区",
    "松江区",
    "金山区",
    "奉贤区",
    "崇明区",
]
ADDRESS_AFTER = ["，地址{d}{r}{n}号", "，地址是{d}{r}{n}弄", "，地点在{r}{n}号附近", "（{d}{r}{n}号）", "，{d}{r}"]
ADDRESS_BEFORE = ["{d}{r}{n}号，", "我住在{d}{r}{n}弄，", "在{r}和{r2}路口，", "{d}{r}这边，"]
#: what callers add that says nothing about the matter
ASIDES = [
    "，之前打过电话说会处理的",
    "，找过物业他们说不归他们管",
    "，居委会也来看过了",
    "，我也不知道该找谁",
    "，家里有老人小孩",
    "，说了好几次了",
    "，拍了照片可以发给你们",
    "，上次打电话的工单号我忘了",
    "，我上班忙白天没时间",
    "，邻居们都有意见",
]
TIMES = ["", "", "已经一个星期了", "从上个月开始就这样", "这几天", "昨天晚上", "最近一直这样", "好久了"]
CLOSINGS = [
    "",
    "",
    "希望尽快处理",
    "请相关部门管一管",
    "谢谢",
    "已经反映过好几次了都没人管",
    "希望给个答复",
    "麻烦尽快派人来看看",
    "影响很大",
    "请尽快解决，谢谢！",
    "希望政府重视",
]
SYNONYMS = {
    "很": ["非常", "特别", "太"],
    "没人": ["没有人", "也没人"],
    "好几天": ["几天", "很多天"],
    "晚上": ["夜里", "晚间"],
    "小区": ["小区", "我们小区"],
    "马路": ["路", "街上"],
    "希望": ["请", "盼望"],
    "坏了": ["坏掉了", "出问题了"],
    "家里": ["我家", "屋里"],
    "附近": ["旁边", "周边"],
}
HOMOPHONES = dict(
    zip(
        "垃圾噪漏坏堵电梯灯路停物费房施工楼井盖气燃管吵烟狗猫摊违建资欠保险医药学校水臭",
        "拉级燥露怀赌点题登露听务废防师公搂进概汽然馆炒淹够毛滩为见姿钱宝显衣要雪笑氺丑",
        strict=True,
    )
)


@dataclass(frozen=True)
class LabelledRequest:
    text: str
    category: str
    mixed_with: str | None = None
    address: str | None = None
    grid: str | None = None


def _typos(text: str, rng: random.Random, rate: float) -> str:
    out = []
    for ch in text:
        roll = rng.random()
        if roll < rate and ch in HOMOPHONES:
            out.append(HOMOPHONES[ch])
        elif roll < rate * 0.3 and len(text) > 8:
            continue  # a dropped character
        else:
            out.append(ch)
    return "".join(out)


def _paraphrase(phrase: str, rng: random.Random) -> str:
    for word, options in SYNONYMS.items():
        if word in phrase and rng.random() < 0.35:
            phrase = phrase.replace(word, rng.choice(options), 1)
    return phrase.replace("{n}", str(rng.choice([2, 3, 4, 5, 7, 10])))


def _address(forms: Sequence[str], rng: random.Random) -> str:
    form = rng.choice(forms)
    return form.format(d=rng.choice(DISTRICTS), r=rng.choice(ROADS), r2=rng.choice(ROADS), n=rng.randint(1, 999))


def compose(phrases: Sequence[str], rng: random.Random, *, typo_rate: float, second: str | None = None) -> str:
    core = _paraphrase(rng.choice(phrases), rng)
    parts = [rng.choice(OPENERS)]
    address_first = rng.random() < 0.15
    if address_first:
        parts.append(_address(ADDRESS_BEFORE, rng))
    elif rng.random() < 0.3:
        parts.append(f"在{rng.choice(PLACES)}，")
    parts.append(core)
    if rng.random() < 0.3 and len(phrases) > 1:
        parts.append("，而且" + _paraphrase(rng.choice(phrases), rng))
    if time := rng.choice(TIMES):
        parts.append("，" + time)
    if not address_first and rng.random() < 0.3:
        parts.append(_address(ADDRESS_AFTER, rng))
    if rng.random() < 0.15:
        parts.append(rng.choice(ASIDES))
    if second:
        parts.append(rng.choice(["。另外，", "，还有就是", "。顺便说一下，"]) + _paraphrase(second, rng))
    if closing := rng.choice(CLOSINGS):
        parts.append("，" + closing)
    text = "".join(parts) + rng.choice(["", "。", "！", "。。"])
    return _typos(text, rng, typo_rate) if typo_rate else text


def address_for(grid: Grid, master: MasterData, rng: random.Random) -> str:
    """One of the ways people give an address that resolves to ``grid``."""
    community = master.communities[grid.community]
    street = master.streets[community.street]
    district = master.districts[street.district]
    number = rng.randint(grid.num_lo, grid.num_hi)
    road_number = address_key(grid.road, number)
    return rng.choice(
        [
            f"{district.name}{street.name}{road_number}",
            f"{district.short_name}{road_number}",
            f"上海市{district.name}{road_number}{community.name}",
            f"{road_number}附近",
            f"{street.name}{grid.road}{number}号{rng.randint(1, 20)}号楼",
        ]
    )


def generate(
    *,
    per_category: int,
    seed: int,
    typo_rate: float = 0.03,
    mixed_rate: float = 0.08,
    phrasing_filter: Callable[[int], bool] | None = None,
    categories: Sequence[str] | None = None,
    master: MasterData | None = None,
) -> list[LabelledRequest]:
    """``per_category`` requests for every category (or those named). ``phrasing_filter(i)`` picks which of
    a category's phrasings may be used (the evaluation holds some out). With ``master``, each request
    also gets an address that resolves to a known grid."""
    rng = random.Random(seed)
    all_phrases = training_phrasings()
    codes = list(categories) if categories is not None else sorted(all_phrases)
    grids = sorted(master.grids) if master else []
    out = []
    for code in codes:
        phrases = [p for i, p in enumerate(all_phrases[code]) if phrasing_filter is None or phrasing_filter(i)]
        for _ in range(per_category):
            other = None
            if rng.random() < mixed_rate:
                other = rng.choice([c for c in codes if c != code] or [code])
            second = rng.choice(all_phrases[other]) if other else None
            text = compose(phrases, rng, typo_rate=typo_rate, second=second)
            address = grid_code = None
            if master is not None:
                grid = master.grids[rng.choice(grids)]
                address, grid_code = address_for(grid, master, rng), grid.code
            out.append(LabelledRequest(text, code, other, address, grid_code))
    rng.shuffle(out)
    return out
