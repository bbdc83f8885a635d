"""More FinanceBench filings to tune on, laid out as financebench-dev (`pdfs/*.pdf`, `questions.json`).

    .venv/bin/python -m bench.financebench_sets --repo MIRROR --out DIR
    FINANCEBENCH_DIR=DIR .venv/bin/python bench/financebench_eval.py --embedder e5 --misses

MIRROR is a checkout (or bare mirror) of patronus-ai/financebench at cc39aeb, the commit
financebench-dev was taken from. The set (session 13): every filing of its open-source sample that is
not one of financebench-dev's nine, has at least MIN_QUESTIONS questions and whose PDF the mirror
holds (some large PDFs are absent from the stored copy). All of its questions are for tuning: the
set's odd/even halves mean nothing; financebench-dev stays the reported set. Not shipped (the
repository states no licence).
"""

from __future__ import annotations

import argparse
import json
import subprocess
from collections import Counter
from pathlib import Path

DEV = Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "financebench-dev"
COMMIT = "cc39aeb4afdf33909ee1412188bf89035950c2eb"
MIN_QUESTIONS = 2
# Questions these filings do not answer, written by hand (session 14) before any of their text was read, to
# tune the refusal of unanswerable questions on; financebench_eval.py's UNANSWERABLE stays the reported set.
# Some ask about a topic the filing never mentions, some about a period or place it does not cover.
UNANSWERABLE = (
    ("3M_2018_10K", "How much did 3M spend on advertising on TikTok in 2018?"),
    (
        "ACTIVISIONBLIZZARD_2019_10K",
        "How many copies of Call of Duty did Activision Blizzard sell in Brazil in 2019?",
    ),
    ("ADOBE_2022_10K", "What was Adobe's revenue from NFT sales in fiscal 2022?"),
    ("AMAZON_2017_10K", "How many electric delivery vans did Amazon buy from Rivian in 2017?"),
    (
        "AMCOR_2023Q4_EARNINGS",
        "What was Amcor's revenue from cannabis packaging in the fourth quarter of fiscal 2023?",
    ),
    ("AMCOR_2023_10K", "How many employees does Amcor have in Iceland?"),
    ("AMERICANEXPRESS_2022_10K", "How much Dogecoin did American Express hold at the end of 2022?"),
    ("BESTBUY_2023_10K", "How many stores did Best Buy open in Germany in fiscal 2023?"),
    (
        "BESTBUY_2024Q2_10Q",
        "What was Best Buy's revenue from selling groceries in the second quarter of fiscal 2024?",
    ),
    ("BLOCK_2020_10K", "How many bitcoin ATMs did Block operate in 2020?"),
    ("BOEING_2022_10K", "What was Boeing's revenue from its cruise ship business in 2022?"),
    ("CORNING_2022_10K", "How much lithium did Corning mine in 2022?"),
    ("GENERALMILLS_2020_10K", "How many restaurants does General Mills operate in Brazil?"),
    ("JPMORGAN_2021Q1_10Q", "What was JPMorgan's net income in the third quarter of 2021?"),
    ("MGMRESORTS_2022Q4_EARNINGS", "What was MGM Resorts' revenue from its casinos in Tokyo in 2022?"),
    ("PEPSICO_2022_10K", "How much did PepsiCo spend on Super Bowl advertising in 2022?"),
    ("PEPSICO_2023_8K_dated-2023-05-30", "What was PepsiCo's net revenue in 2025?"),
    ("ULTABEAUTY_2023Q4_EARNINGS", "How many Ulta Beauty stores are in France?"),
    ("VERIZON_2021_10K", "How many 6G base stations did Verizon deploy in 2021?"),
)


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)


def build(repo: Path, out: Path) -> list[dict[str, object]]:
    dev_docs = {q["doc_name"] for q in json.loads((DEV / "questions.json").read_text())}
    upstream = git(repo, "show", f"{COMMIT}:data/financebench_open_source.jsonl").stdout.decode()
    rows = [json.loads(line) for line in upstream.splitlines() if line.strip()]
    counts = Counter(r["doc_name"] for r in rows if r["doc_name"] not in dev_docs)
    (out / "pdfs").mkdir(parents=True, exist_ok=True)
    docs = []
    for doc, n in sorted(counts.items()):
        pdf = git(repo, "show", f"{COMMIT}:pdfs/{doc}.pdf")
        if n >= MIN_QUESTIONS and pdf.returncode == 0:
            (out / "pdfs" / f"{doc}.pdf").write_bytes(pdf.stdout)
            docs.append(doc)
    questions = [
        {
            "id": r["financebench_id"],
            "doc_name": r["doc_name"],
            "company": r["company"],
            "question_type": r["question_type"],
            "question": r["question"],
            "answer": r["answer"],
            # upstream evidence_page_num is 0-based; financebench-dev's gold_pages are 1-based
            "gold_pages": sorted(
                {e["evidence_page_num"] + 1 for e in r["evidence"] if e["doc_name"] == r["doc_name"]}
            ),
            "evidence_text": " ".join(e["evidence_text"] for e in r["evidence"]),
        }
        for r in rows
        if r["doc_name"] in docs
    ]
    (out / "questions.json").write_text(json.dumps(questions, indent=1))
    unanswerable = [{"doc_name": doc, "question": q} for doc, q in UNANSWERABLE if doc in docs]
    (out / "unanswerable.json").write_text(json.dumps(unanswerable, indent=1))
    return questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", type=Path, required=True, help="patronus-ai/financebench at cc39aeb")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    questions = build(args.repo, args.out)
    print(f"{len({q['doc_name'] for q in questions})} filings, {len(questions)} questions in {args.out}")


if __name__ == "__main__":
    main()
