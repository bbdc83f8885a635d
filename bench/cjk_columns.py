"""Chinese multi-column pages with a known reading order, drawn with PyMuPDF's built-in CJK font
("china-s"): newspaper pages in two and three columns (a headline across them, a second story's
headline across the middle), and broker reports with a side column of figures beside the text.

Every line is placed by hand, so the truth is exact: `CjkPage.truth` lists the lines in reading order,
each with the region (column) it belongs to. Points throughout, top-left origin.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pymupdf

FONT = "china-s"
PAGE_PT = (595.0, 842.0)  # A4
MARGIN = 48.0

SENTENCES = [
    "今年前三季度全省规模以上工业增加值同比增长百分之六点二，增速比上半年加快零点四个百分点。",
    "市统计局表示，新能源汽车和集成电路产量保持较快增长，成为拉动工业的主要力量。",
    "随着一批重点项目陆续开工，基础设施投资稳步回升，带动建材和工程机械需求改善。",
    "消费市场继续恢复，餐饮收入和旅游收入均创下同期新高，假日经济表现活跃。",
    "外贸方面，对东盟和中东地区出口增长明显，机电产品出口占比进一步提高。",
    "业内人士认为，下一阶段稳增长政策仍将加力，重点在于扩大有效需求和稳定预期。",
    "城区新建的三条公交线路已于本月开通，沿线居民出行时间平均缩短十五分钟。",
    "该区同步推进老旧小区改造，加装电梯一百二十部，惠及居民近四千户。",
    "气象部门预计，未来一周我市以晴到多云天气为主，早晚温差较大，请注意添衣。",
    "农业农村部门组织技术人员下乡，指导农户做好秋收秋种和病虫害防治工作。",
    "今年粮食播种面积保持稳定，优质稻和高油大豆的种植比例继续提高。",
    "文化馆推出的周末公益课堂吸引了大批市民参加，书法和民乐课程尤其受欢迎。",
    "公司发布三季度报告，单季营业收入同比增长百分之十八，毛利率环比提升。",
    "我们认为公司产品结构持续优化，高端产品放量将推动盈利能力进一步提升。",
    "海外业务拓展顺利，欧洲和东南亚市场订单饱满，预计全年海外收入占比超过三成。",
    "原材料价格回落叠加规模效应，公司费用率有望继续下降，利润弹性较大。",
    "风险提示包括下游需求不及预期、原材料价格大幅波动以及市场竞争加剧。",
    "维持公司买入评级，对应明年预测市盈率约十五倍，估值处于历史较低水平。",
    "研发投入占收入比重提升至百分之七，新一代产品已进入客户验证阶段。",
    "经营活动现金流明显改善，应收账款周转天数较年初缩短十二天。",
]

HEADLINES = ["全省经济运行稳中向好", "城市更新让居民生活更便利", "秋收秋种有序推进", "文化惠民活动丰富多彩"]


@dataclass
class CjkPage:
    name: str
    layout: str
    # (line text, region, box normalized 0..1 of the page) in reading order
    truth: list[tuple[str, int, tuple[float, float, float, float]]] = field(default_factory=list)
    regions: list[tuple[float, float]] = field(default_factory=list)  # x extent of each region, pt


def _paragraphs(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.sample(SENTENCES, rng.randint(2, 4))) for _ in range(n)]


class _Writer:
    def __init__(self, page: pymupdf.Page, out: CjkPage) -> None:
        self.page, self.out, self.font = page, out, pymupdf.Font(FONT)

    def region(self, x0: float, x1: float) -> int:
        self.out.regions.append((x0, x1))
        return len(self.out.regions) - 1

    def line(self, text: str, x: float, y: float, size: float, region: int) -> None:
        self.page.insert_text((x, y + size), text, fontname=FONT, fontsize=size)
        x1 = x + self.font.text_length(text, size)
        box = (x / PAGE_PT[0], y / PAGE_PT[1], x1 / PAGE_PT[0], (y + size * 1.2) / PAGE_PT[1])
        self.out.truth.append((text, region, box))

    def flow(
        self, paras: list[str], x0: float, x1: float, y: float, y_end: float, size: float, region: int = -1
    ) -> float:
        """Paragraphs set in the column x0..x1 from y, first lines indented two characters; stops at
        y_end. The y below the last line."""
        region = region if region >= 0 else self.region(x0, x1)
        lead = size * 1.55
        for para in paras:
            indent, rest = 2 * size, para
            while rest and y + lead <= y_end:
                n = 1
                while n < len(rest) and self.font.text_length(rest[: n + 1], size) <= x1 - x0 - indent:
                    n += 1
                self.line(rest[:n], x0 + indent, y, size, region)
                rest, indent, y = rest[n:], 0.0, y + lead
            y += size * 0.6
        return y

    def headline(self, text: str, y: float, size: float) -> float:
        width = self.font.text_length(text, size)
        self.line(text, (PAGE_PT[0] - width) / 2, y, size, self.region(MARGIN, PAGE_PT[0] - MARGIN))
        return y + size * 2.0


def _columns(n: int, gutter: float) -> list[tuple[float, float]]:
    width = (PAGE_PT[0] - 2 * MARGIN - (n - 1) * gutter) / n
    return [(MARGIN + i * (width + gutter), MARGIN + i * (width + gutter) + width) for i in range(n)]


def newspaper(page: pymupdf.Page, out: CjkPage, rng: random.Random, n_cols: int, gutter: float) -> None:
    w = _Writer(page, out)
    y = w.headline(rng.choice(HEADLINES), MARGIN, 22)
    mid = PAGE_PT[1] * 0.55 if n_cols == 3 else PAGE_PT[1] - MARGIN
    for x0, x1 in _columns(n_cols, gutter):
        w.flow(_paragraphs(rng, 4), x0, x1, y, mid, 10.5)
    if n_cols == 3:  # a second story: its headline spans the page, its text runs in two columns
        y = w.headline(rng.choice(HEADLINES), mid + 14, 18)
        for x0, x1 in _columns(2, gutter):
            w.flow(_paragraphs(rng, 3), x0, x1, y, PAGE_PT[1] - MARGIN, 10.5)


FIGURES = [
    ("投资评级", "买入（维持）"),
    ("目标价格", "25.60元"),
    ("当前股价", "19.32元"),
    ("总市值", "356.8亿元"),
    ("流通股本", "12.4亿股"),
    ("52周最高", "23.15元"),
    ("52周最低", "15.02元"),
    ("市盈率", "18.6倍"),
    ("营业收入", "128.5亿元"),
    ("净利润", "15.9亿元"),
]


def broker_report(page: pymupdf.Page, out: CjkPage, rng: random.Random, side_left: bool) -> None:
    """A title across the page, the analysis in a wide column and key figures in a narrow side column."""
    w = _Writer(page, out)
    y = w.headline("公司点评：三季度业绩超预期，盈利能力持续提升", MARGIN, 16)
    side_w, gap = 150.0, 24.0
    if side_left:
        side, main = (MARGIN, MARGIN + side_w), (MARGIN + side_w + gap, PAGE_PT[0] - MARGIN)
    else:
        main, side = (
            (MARGIN, PAGE_PT[0] - MARGIN - side_w - gap),
            (PAGE_PT[0] - MARGIN - side_w, PAGE_PT[0] - MARGIN),
        )

    def main_column() -> None:
        yy, region = y, w.region(*main)
        for title in ["投资要点", "盈利预测与估值", "风险提示"]:
            w.line(title, main[0], yy, 13, region)
            yy = w.flow(_paragraphs(rng, 2), main[0], main[1], yy + 24, PAGE_PT[1] - MARGIN, 10.5, region)

    def side_column() -> None:
        region, yy = w.region(*side), y
        w.line("主要数据", side[0], yy, 12, region)
        yy += 22
        for label, value in rng.sample(FIGURES, 8):
            w.line(f"{label}：{value}", side[0], yy, 10, region)
            yy += 17
        yy += 12
        w.line("分析师：王明", side[0], yy, 10, region)
        w.line("联系人：李华", side[0], yy + 17, 10, region)

    for part in (side_column, main_column) if side_left else (main_column, side_column):
        part()


def make_pages(seed: int = 7) -> tuple[pymupdf.Document, list[CjkPage]]:
    """The five test pages in one PDF (page i is pages[i])."""
    rng = random.Random(seed)
    doc = pymupdf.open()
    pages = []
    specs = [
        ("news-2col", lambda p, o: newspaper(p, o, rng, 2, 20)),
        ("news-2col-narrow", lambda p, o: newspaper(p, o, rng, 2, 12)),
        ("news-3col", lambda p, o: newspaper(p, o, rng, 3, 16)),
        ("report-side-right", lambda p, o: broker_report(p, o, rng, side_left=False)),
        ("report-side-left", lambda p, o: broker_report(p, o, rng, side_left=True)),
    ]
    for name, draw in specs:
        out = CjkPage(name=name, layout=name.split("-")[0])
        draw(doc.new_page(width=PAGE_PT[0], height=PAGE_PT[1]), out)
        pages.append(out)
    return doc, pages
