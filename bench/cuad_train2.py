"""Session 9's tuning set: ten more CUAD contracts laid out as cuad-dev (`contracts/*.pdf`, `metadata.json`).

    .venv/bin/python -m bench.cuad_train2 --pdfs PDFS --clauses master_clauses.csv --out DIR
    .venv/bin/python bench/answer_eval.py --embedder e5 --cuad DIR      # and retrieval_eval, review_eval

PDFS: vlad-ds/complyflow `cuad/train_2/contracts` at 338f27e (`fetch`, then `git archive HEAD
cuad/train_2`). master_clauses.csv: CUAD's labels (e.g. YiYang02/Legal-Text-Classification at 1f7dd9a,
whose `full_contract_pdf` holds the same PDFs byte for byte). Each category's spans are that column's
Python-list text, duplicates dropped, as cuad-dev's metadata.json lists them. Not shipped: the set is
for tuning (docs/benchmarks.md, "Ten more contracts to tune on").
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import shutil
from pathlib import Path

CATEGORIES = (
    "Document Name",
    "Parties",
    "Agreement Date",
    "Effective Date",
    "Expiration Date",
    "Renewal Term",
    "Notice Period To Terminate Renewal",
    "Governing Law",
)
COLUMNS = {"Notice Period To Terminate Renewal": "Notice Period to Terminate Renewal"}  # the csv's spelling
# file in train_2 -> CUAD's file name and contract type
CONTRACTS = {
    "01_license_alliedesports.pdf": (
        "AlliedEsportsEntertainmentInc_20190815_8-K_EX-10.19_11788293_EX-10.19_Content License Agreement.pdf",
        "License Agreement",
    ),
    "02_license_datacall.pdf": (
        "DataCallTechnologies_20060918_SB-2A_EX-10.9_944510_EX-10.9_Content License Agreement.pdf",
        "License Agreement",
    ),
    "03_distributor_fusemedical.pdf": (
        "FuseMedicalInc_20190321_10-K_EX-10.43_11575454_EX-10.43_Distributor Agreement.pdf",
        "Distributor Agreement",
    ),
    "04_distributor_scansource.pdf": (
        "ScansourceInc_20190509_10-Q_EX-10.2_11661422_EX-10.2_Distributor Agreement.pdf",
        "Distributor Agreement",
    ),
    "05_development_aimmune.pdf": (
        "AimmuneTherapeuticsInc_20200205_8-K_EX-10.3_11967170_EX-10.3_Development Agreement.pdf",
        "Development Agreement",
    ),
    "06_development_conformis.pdf": (
        "ConformisInc_20191101_10-Q_EX-10.6_11861402_EX-10.6_Development Agreement.pdf",
        "Development Agreement",
    ),
    "07_maintenance_atninternational.pdf": (
        "AtnInternationalInc_20191108_10-Q_EX-10.1_11878541_EX-10.1_Maintenance Agreement.pdf",
        "Maintenance Agreement",
    ),
    "08_maintenance_bloomenergy.pdf": (
        "BloomEnergyCorp_20180321_DRSA (on S-1)_EX-10_11240356_EX-10_Maintenance Agreement.pdf",
        "Maintenance Agreement",
    ),
    "09_outsourcing_ferroglobe.pdf": (
        "FerroglobePlc_20150624_F-4A_EX-10.20_9154746_EX-10.20_Outsourcing Agreement.pdf",
        "Outsourcing Agreement",
    ),
    "10_outsourcing_imperialgarden.pdf": (
        "ImperialGardenResortInc_20161028_DRS (on F-1)_EX-10.13_9963189_EX-10.13_Outsourcing Agreement.pdf",
        "Outsourcing Agreement",
    ),
}


def spans(cell: str) -> list[str]:
    """A csv cell's spans ("['a', 'b']"), in order, each once."""
    return list(dict.fromkeys(ast.literal_eval(cell))) if cell.strip() else []


def metadata(clauses: Path) -> list[dict[str, object]]:
    csv.field_size_limit(2**31 - 1)  # a contract's whole text sits in one cell
    with clauses.open(encoding="utf-8", newline="") as f:
        rows = {row["Filename"]: row for row in csv.DictReader(f)}
    out: list[dict[str, object]] = []
    for file, (original, kind) in CONTRACTS.items():
        row = rows[original]
        entry: dict[str, object] = {"file": file, "original_filename": original, "contract_type": kind}
        out.append(entry | {c: spans(row[COLUMNS.get(c, c)]) for c in CATEGORIES})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pdfs", type=Path, required=True, help="complyflow's cuad/train_2/contracts")
    parser.add_argument("--clauses", type=Path, required=True, help="CUAD's master_clauses.csv")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    (args.out / "contracts").mkdir(parents=True, exist_ok=True)
    for file in CONTRACTS:
        shutil.copyfile(args.pdfs / file, args.out / "contracts" / file)
    (args.out / "metadata.json").write_text(json.dumps(metadata(args.clauses), indent=2), encoding="utf-8")
    print(f"{len(CONTRACTS)} contracts -> {args.out}")


if __name__ == "__main__":
    main()
