"""Contract review: schemas validate with errors naming the field; a real PDF's terms are read with
their words' boxes, and a term the contract lacks is not found."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from ingest.chunking import ChunkingConfig, chunk_document
from ingest.layout import BBox, Region
from ingest.ocr.textlayer import TextLayerEngine
from ingest.sources import open_source
from retrieval.answer import AnswerConfig, ExtractiveAnswerer
from retrieval.embed import SentenceTransformerEmbedder
from retrieval.hits import SearchHit
from retrieval.review import (
    CONTRACT,
    TERM_STATEMENT,
    FieldSpec,
    SchemaError,
    extract_document,
    extract_field,
    jurisdiction,
    load_schema,
    months,
    parse_schema,
)
from retrieval.search import KnowledgeBase
from tests.support.documents import contract_pdf


def _index(kb: KnowledgeBase, embedder: SentenceTransformerEmbedder, path: Path) -> None:
    with open_source(path) as doc:
        pages = [doc.render_page(n, pixels=False) for n in range(1, doc.page_count + 1)]
    layouts = [TextLayerEngine().recognize_sync(p) for p in pages]
    chunking = ChunkingConfig().fitted(embedder.max_tokens)
    kb.index_chunks(chunk_document("supply", "kb-a", path.name, layouts, chunking, embedder.count_tokens))


def test_a_real_contract_gives_each_term_with_its_words_and_absent_terms_not_found(
    kb: KnowledgeBase, minilm: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    _index(kb, minilm, contract_pdf(tmp_path / "supply.pdf"))
    fields = asyncio.run(extract_document(kb, "supply", CONTRACT, ExtractiveAnswerer(AnswerConfig())))
    got = {f.name: f for f in fields}
    assert [f.name for f in fields] == [f.name for f in CONTRACT.fields]

    assert got["Parties"].found and got["Parties"].value == ["Acme Widgets Inc.", "Beta Robotics LLC"]
    date = got["Agreement Date"]
    assert date.found and date.normalized == "2021-03-03" and date.quote == "March 3, 2021"
    # word-level: the date's box is a small part of its line, on page 1
    [region] = date.regions
    assert region.page == 1 and region.bbox.x1 - region.bbox.x0 < 0.25
    law = got["Governing Law"]
    assert law.found and law.value == "laws of the State of New York" and law.normalized == "New York"
    assert law.clause == "6"
    assert law.regions and all(r.page == 2 for r in law.regions)
    renewal = got["Renewal Term"]
    assert renewal.found and renewal.value == "one (1) year" and renewal.normalized == 12
    assert "automatically renew" in str(renewal.quote)  # a period is cited with its clause's sentence
    assert renewal.regions[0].page == 2
    # no effective date and no notice period for renewal: its dates and 30/60-day periods are about other things
    assert not got["Effective Date"].found and not got["Notice Period To Terminate Renewal"].found
    assert got["Document Name"].value == "SUPPLY AGREEMENT" and got["Document Name"].confidence == 0.9
    assert "December 31, 2025" in str(got["Expiration Date"].quote)
    assignment = got["Anti-Assignment"]
    assert assignment.found and assignment.value == "yes" and assignment.clause == "7"
    assert not got["Audit Rights"].found and not got["Non-Compete"].found and not got["License Grant"].found
    for field in fields:
        if field.found:
            assert field.regions and all(isinstance(r.bbox, BBox) for r in field.regions)


@pytest.mark.parametrize(
    ("period", "expected"),
    [("five (5) years", 60), ("ninety (90) days", 3), ("12 months", 12), ("two weeks", 0.47)],
)
def test_periods_in_months(period: str, expected: float) -> None:
    assert months(period) == expected


def test_jurisdiction_names() -> None:
    assert jurisdiction("governed by the laws of the State of New York, without regard") == "New York"
    assert jurisdiction("the laws of the Commonwealth of Massachusetts.") == "Massachusetts"
    assert jurisdiction("the federal laws of the United States and the laws of Delaware") == "Delaware"
    assert jurisdiction("governed by and construed in accordance with Ohio law.") == "Ohio"
    assert jurisdiction("This Agreement is governed by English law.") == "English"
    assert jurisdiction("Each party shall act in accordance with Applicable Law.") is None
    assert (
        jurisdiction("the laws of the United  States of America") == "United States of America"
    )  # two spaces


def test_user_schema_files_and_errors_naming_the_field(tmp_path: Path) -> None:
    good = tmp_path / "leases.yaml"
    good.write_text(
        "name: leases\nfields:\n  - name: Rent\n    question: What is the monthly rent?\n"
        "  - name: Contract No\n    question: What is the contract number?\n    type: pattern\n"
        "    patterns: ['合同编号[:：]\\s*\\S+']\n",
        encoding="utf-8",
    )
    schema = load_schema(good)
    assert [f.type for f in schema.fields] == ["text", "pattern"]
    assert load_schema("contract") is CONTRACT

    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"name": "x", "fields": [{"name": "Ok", "question": "Fine?"}, {"name": "Term", "question": "How long?", "type": "months"}]}),
        encoding="utf-8",
    )  # fmt: skip
    with pytest.raises(SchemaError, match=r"fields\[1\] 'Term'\.type"):
        load_schema(bad)
    with pytest.raises(SchemaError, match="unique"):
        parse_schema({"name": "x", "fields": [{"name": "A", "question": "a?a"}] * 2})
    with pytest.raises(SchemaError, match="regular expression"):
        load_schema(_written(tmp_path, {"name": "x", "fields": [{"name": "N", "question": "No?", "type": "pattern", "patterns": ["("]}]}))  # fmt: skip
    with pytest.raises(SchemaError, match="no schema"):
        load_schema("nonesuch")
    assert FieldSpec(name="A", question="Why?").type == "text"


def _written(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _hit(text: str, chunk_id: str = "c1") -> SearchHit:
    box = BBox(x0=0.1, y0=0.2, x1=0.9, y1=0.22)
    return SearchHit(
        chunk_id=chunk_id, doc_id="d", kb="k", filename="d.pdf", score=1.0, kind="text", markdown=text,
        regions=[Region(page=3, bbox=box, text=text)], pages=[3],
    )  # fmt: skip


def test_a_date_the_sentence_gives_as_an_end_answers_only_a_question_about_the_end() -> None:
    hits = [
        _hit("The Term shall commence effective as of the date hereof and shall expire on December 31, 2028.")
    ]
    answerer = ExtractiveAnswerer(AnswerConfig())
    effective = next(f for f in CONTRACT.fields if f.name == "Effective Date")
    assert not asyncio.run(extract_field(effective, hits, answerer)).found
    ends = FieldSpec(name="End", question="When does this agreement expire?", type="date")
    end = asyncio.run(extract_field(ends, hits, answerer))
    assert end.found and end.normalized == "2028-12-31"


def test_a_date_whose_ordinal_the_text_layer_split_is_read() -> None:
    hits = [
        _hit(
            "This Agreement is made and entered into as of the 19t h day of December, 2018 (the date hereof)."
        )
    ]
    agreement = next(f for f in CONTRACT.fields if f.name == "Agreement Date")
    date = asyncio.run(extract_field(agreement, hits, ExtractiveAnswerer(AnswerConfig())))
    assert date.found and date.normalized == "2018-12-19" and date.value == "19t h day of December, 2018"


def test_an_effective_date_the_card_read_from_a_clause_is_the_date_cited_on_its_sentence() -> None:
    card = _hit("Effective date: it takes effect on January 1, 2016.").model_copy(
        update={
            "heading_path": ["Document card"],
            "regions": [
                Region(
                    page=2,
                    bbox=BBox(x0=0.1, y0=0.3, x1=0.8, y1=0.32),
                    text="The effective date of the Franchise will be January 1, 2016.",
                )
            ],
        }
    )
    effective = next(f for f in CONTRACT.fields if f.name == "Effective Date")
    date = asyncio.run(extract_field(effective, [card], ExtractiveAnswerer(AnswerConfig())))
    assert (date.value, date.normalized) == ("January 1, 2016", "2016-01-01")
    assert [r.page for r in date.regions] == [2] and date.regions[0].bbox.x1 - date.regions[0].bbox.x0 < 0.3


def test_a_date_the_preamble_leaves_partly_blank_is_found_with_its_reduced_iso_form() -> None:
    """A date written with blanks for day and month, or without its year, is the agreement's date as far as
    it goes ("2013", "--04-30"), not "not found", since the preamble is where it is written."""
    agreement = next(f for f in CONTRACT.fields if f.name == "Agreement Date")
    answerer = ExtractiveAnswerer(AnswerConfig())
    for written, iso in (("______ day of ________________, 2013", "2013"), ("30th day of April", "--04-30")):
        card = _hit(f"Date: it is dated {written}.").model_copy(
            update={
                "heading_path": ["Document card"],
                "regions": [Region(page=1, bbox=BBox(x0=0.4, y0=0.12, x1=0.6, y1=0.132), text=written)],
            }
        )
        date = asyncio.run(extract_field(agreement, [card], answerer))
        assert (date.found, date.value, date.normalized) == (True, written, iso)
        assert [r.page for r in date.regions] == [1]
    # in a clause, a day without its year is a day of some year, not the agreement's date
    clause = _hit("Each royalty report shall be dated the 15th day of March.")
    assert not asyncio.run(extract_field(agreement, [clause], answerer)).found


@pytest.mark.parametrize(
    ("sentence", "states_term"),
    [
        ("The initial term of this Agreement commences as of the Effective Date and shall continue until "
         "five (5) years following the Effective Date.", True),
        ("This Agreement will terminate on the earlier to occur of (a) the date the last Receivable is paid.", True),
        ("Unless earlier terminated, this Agreement shall remain in effect for three (3) years.", True),
        ("3. Term. This Agreement shall continue in force until December 31, 2025.", True),
        ("The Initial Term shall be two (2) years from the Effective Date.", True),
        ("Subject to Section 2, and unless sooner terminated as provided in Article 12 of this agreement, "
         "this License Agreement shall remain in force for ten (10) years.", True),
        ("“Term” means the period from the Effective Date until the last Royalty Term expires.", True),
        ("A. This Agreement and the provisions hereof shall be in full force and effect commencing on the date "
         "of execution.", True),
        ("Thereafter, this Agreement shall renew automatically for one (1) additional three (3) year period "
         "unless either party gives notice of non-renewal before the expiration of the Initial Term.", False),
        ("In the event of the expiration or termination of this Agreement, Sections 5 and 7 survive.", False),
        ("This Agreement may be terminated by either party upon ninety (90) days notice.", False),
        ("Upon any expiration or termination of this Agreement:", False),
        # an end on an event, not the agreement's term
        ("This Agreement shall automatically terminate if Broker Dealer ceases to be a member of FINRA.", False),
        ("The Agreement will be terminated in the event that either party becomes insolvent.", False),
        ("This Agreement shall terminate upon the expiration of the last Licensed Patent.", True),
        ("The Initial Term shall renew automatically for successive one (1) year periods.", False),
    ],
)  # fmt: skip
def test_only_a_sentence_stating_the_agreements_term_is_expiry_evidence(
    sentence: str, states_term: bool
) -> None:
    assert bool(re.search(TERM_STATEMENT, sentence, re.I)) is states_term


class Indifferent:
    def embed_query(self, text: str) -> list[float]:
        return [1.0, 0.0]

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]


def test_the_term_clause_answers_expiry_over_a_renewal_sentence_naming_expiration() -> None:
    hits = [
        _hit(
            "Thereafter, this Agreement shall renew automatically for one (1) additional three (3) year period "
            "unless either party gives notice of non-renewal before the expiration of the Initial Term."
        ),
        _hit(
            "The initial term of this Agreement commences as of the Effective Date and shall continue until "
            "five (5) years following the Effective Date.",
            "c2",
        ),
        _hit("Licensee shall pay each invoice within thirty (30) days of its receipt.", "c3"),
    ]
    expiry = next(f for f in CONTRACT.fields if f.name == "Expiration Date")
    # the review reads with the kb's embedder; this one finds every sentence as close to the question
    field = asyncio.run(extract_field(expiry, hits, ExtractiveAnswerer(AnswerConfig(), Indifferent())))
    assert field.found and str(field.value).startswith("The initial term of this Agreement")


def test_a_notice_of_an_insurance_non_renewal_is_no_renewal_term_nor_its_notice() -> None:
    hits = [
        _hit(
            "Each Party shall provide the other Party with prompt written notice of any cancellation, non-renewal "
            "or material change in such insurance, and shall provide such notice within thirty (30) days."
        )
    ]
    answerer = ExtractiveAnswerer(AnswerConfig())
    for name in ("Renewal Term", "Notice Period To Terminate Renewal"):
        spec = next(f for f in CONTRACT.fields if f.name == name)
        assert not asyncio.run(extract_field(spec, hits, answerer)).found, name
