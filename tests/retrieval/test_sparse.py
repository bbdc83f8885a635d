"""Sparse BM25 vectors: tokens (English, numbers, CJK), term weights, stable hashing."""

from __future__ import annotations

import pytest

from retrieval.sparse import SparseConfig, SparseEncoder, token_index, tokenize


def weight(encoder: SparseEncoder, text: str, token: str) -> float:
    vector = encoder.encode(text)
    [term] = encoder.terms(token)  # "indemnification" is weighed as its stem
    return dict(zip(vector.indices, vector.values, strict=True))[token_index(term)]


def test_tokens_are_lowercased_and_keep_clause_numbers_and_amounts() -> None:
    assert tokenize("Section 12.3 caps Fees at $1,000.50 or 15%.") == [
        "section", "12.3", "caps", "fees", "at", "$1,000.50", "1,000.50", "or", "15%", "15",
    ]  # fmt: skip


def test_chinese_runs_become_bigrams_by_default_and_jieba_words_on_request() -> None:
    assert tokenize("合同终止") == ["合同", "同终", "终止"]
    assert tokenize("合同终止", cjk="jieba") == ["合同", "终止"]
    assert tokenize("Clause 5 违约责任") == ["clause", "5", "违约", "约责", "责任"]


def test_term_frequency_saturates() -> None:
    encoder = SparseEncoder(SparseConfig(avg_doc_tokens=10))
    once = weight(encoder, "fee a b c d e f g h i", "fee")
    five = weight(encoder, "fee fee fee fee fee f g h i j", "fee")
    assert once < five < once * 2.2 < 5 * once
    assert five < encoder.config.k1 + 1


def test_longer_documents_weigh_a_term_less() -> None:
    encoder = SparseEncoder()
    short = weight(encoder, "indemnification survives", "indemnification")
    long = weight(encoder, "indemnification " + "other words here " * 80, "indemnification")
    assert long < short


def test_query_terms_weigh_one_each_and_indices_are_stable() -> None:
    query = SparseEncoder().encode_query("notice notice period")
    assert sorted(query.indices) == query.indices
    assert query.values == [1.0, 1.0]
    assert token_index("notice") == 1208829378  # crc32: no vocabulary, same index in every process
    assert all(0 <= i < 2**31 for i in query.indices)


@pytest.mark.parametrize("text", ["", "  ", "—…!!"])
def test_text_without_tokens_gives_an_empty_vector(text: str) -> None:
    assert SparseEncoder().encode(text).indices == []


def test_english_words_are_stemmed_so_inflections_match() -> None:
    encoder = SparseEncoder()
    assert encoder.terms("The Parties dated it; expiration of the party's date") == [
        "the", "parti", "date", "it", "expir", "of", "the", "parti", "date",
    ]  # fmt: skip
    assert set(encoder.encode_query("when does it expire").indices) & set(
        encoder.encode("Expiration: the agreement expires in 2030.").indices
    ) >= {token_index("expir")}


def test_numbers_and_chinese_are_not_stemmed_and_stemming_can_be_turned_off() -> None:
    assert SparseEncoder().terms("Section 12.3 合同终止 fees") == [
        "section",
        "12.3",
        "合同",
        "同终",
        "终止",
        "fee",
    ]
    assert SparseEncoder(SparseConfig(stem=False)).terms("Parties dated") == ["parties", "dated"]


def test_dotted_initials_match_the_word_a_question_types() -> None:
    assert tokenize("U.S. sales and U.K. sales; U.S.A.") == ["us", "sales", "and", "uk", "sales", "usa"]
    encoder = SparseEncoder()
    assert set(encoder.encode_query("US sales growth").indices) <= set(
        encoder.encode("U.S. sales growth").indices
    )
    assert tokenize("Sec. 12.3 of the Act") == ["sec", "12.3", "of", "the", "act"]
