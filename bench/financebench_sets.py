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
