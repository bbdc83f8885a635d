"""More CUAD contracts to tune on (and one set to check on), laid out as cuad-dev (`contracts/*.pdf`, `metadata.json`).

    .venv/bin/python -m bench.cuad_sets --set train2 --pdfs PDFS --clauses master_clauses.csv --out DIR
    .venv/bin/python bench/answer_eval.py --embedder e5 --cuad DIR      # and retrieval_eval, review_eval

Sets:
- train2 (session 9): PDFS is vlad-ds/complyflow `cuad/train_2/contracts` at 338f27e (`fetch`, then
  `git archive HEAD cuad/train_2`).
- train3 and train4 (session 10): ten contracts each, of contract types in none of cuad-dev, train2,
  complyflow's test split or the set before, at most 40 pages each, one of each type: train3 drawn with
  `random.Random(2026)` from the files named `*.pdf` (types shuffled, then one contract of each), train4
  with `random.Random(2027)` from all 510 (`*.pdf` and `*.PDF`); as drawn, two of train4's types are also
  train3's (Affiliate, Endorsement: other contracts). PDFS is the `full_contract_pdf` folder of
  YiYang02/Legal-Text-Classification at 1f7dd9a; files are found by CUAD's name under it.
- check5 (session 16): twenty contracts in none of the sets above, drawn the same way with
  `random.Random(2028)` (all 510 files, types shuffled, one contract of each type with at most 40 pages and a
  text layer on page 1). Not for tuning: a held-out check, measured before and after a change, its questions
  and answers never read.

master_clauses.csv: CUAD's labels (the same YiYang02 commit; its `full_contract_pdf` copies are the
complyflow PDFs byte for byte). Each category's spans are that column's Python-list text, duplicates
dropped, as cuad-dev's metadata.json lists them. Not shipped: the sets are for tuning
(docs/benchmarks.md, "Ten more contracts to tune on").
"""

from __future__ import annotations

import argparse
import ast
import csv
import glob
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
# set -> file in the set -> CUAD's file name and contract type
TRAIN2 = {
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
TRAIN3 = {
    "01_affiliate_usio.pdf": (
        "UsioInc_20040428_SB-2_EX-10.11_1723988_EX-10.11_Affiliate Agreement 2.pdf",
        "Affiliate Agreement",
    ),
    "02_promotion_vnue.pdf": (
        "VnueInc_20150914_8-K_EX-10.1_9259571_EX-10.1_Promotion Agreement.pdf",
        "Promotion Agreement",
    ),
    "03_cobranding_ediets.pdf": (
        "EdietsComInc_20001030_10QSB_EX-10.4_2606646_EX-10.4_Co-Branding Agreement.pdf",
        "Co-Branding Agreement",
    ),
    "04_reseller_ipass.pdf": (
        "IpassInc_20181203_8-K_EX-99.1_11445874_EX-99.1_Reseller Agreement.pdf",
        "Reseller Agreement",
    ),
    "05_supply_agapeatp.pdf": (
        "AgapeAtpCorp_20191202_10-KA_EX-10.1_11911128_EX-10.1_Supply Agreement.pdf",
        "Supply Agreement",
    ),
    "06_franchise_rgcresources.pdf": (
        "RgcResourcesInc_20151216_8-K_EX-10.3_9372751_EX-10.3_Franchise Agreement.pdf",
        "Franchise Agreement",
    ),
    "07_manufacturing_bellring.pdf": (
        "BellringBrandsInc_20190920_S-1_EX-10.12_11817081_EX-10.12_Manufacturing Agreement1.pdf",
        "Manufacturing Agreement",
    ),
    "08_ip_cerence.pdf": (
        "CerenceInc_20191002_8-K_EX-10.4_11827494_EX-10.4_Intellectual Property Agreement.pdf",
        "Intellectual Property Agreement",
    ),
    "09_endorsement_legacyeducation.pdf": (
        "LegacyEducationAllianceInc_20141110_8-K_EX-10.9_8828866_EX-10.9_Endorsement Agreement.pdf",
        "Endorsement Agreement",
    ),
    "10_transportation_penntex.pdf": (
        "PenntexMidstreamPartnersLp_20150416_S-1A_EX-10.4_9042833_EX-10.4_Transportation Agreement.pdf",
        "Transportation Agreement",
    ),
}
TRAIN4 = {
    "01_collaboration_allison.pdf": (
        "ALLISONTRANSMISSIONHOLDINGSINC_12_15_2014-EX-99.1-COOPERATION AGREEMENT.PDF",
        "Collaboration Agreement",
    ),
    "02_endorsement_ambassador.pdf": (
        "AMBASSADOREYEWEARGROUPINC_11_17_1997-EX-10.28-ENDORSEMENT AGREEMENT.PDF",
        "Endorsement Agreement",
    ),
    "03_marketing_principal.pdf": (
        "Principal Life Insurance Company - Broker Dealer Marketing and Servicing Agreement .PDF",
        "Marketing Agreement",
    ),
    "04_sponsorship_looksmart.pdf": (
        "LOOKSMARTLTD_07_20_2012-EX-99.(D)(I)-SPONSORSHIP AGREEMENT.PDF",
        "Sponsorship Agreement",
    ),
    "05_noncompete_vivint.pdf": (
        "VIVINT SOLAR, INC. - NON-COMPETITION AGREEMENT.PDF",
        "Non-Compete Agreement",
    ),
    "06_consulting_slingerbag.pdf": (
        "SLINGERBAGINC_05_27_2020-EX-10.7-CONSULTING AGREEMENT.PDF",
        "Consulting Agreement",
    ),
    "07_jointventure_novo.pdf": (
        "NOVOINTEGRATEDSCIENCES,INC_12_23_2019-EX-10.1-JOINT VENTURE AGREEMENT.PDF",
        "Joint Venture Agreement",
    ),
    "08_hosting_bncmortgage.pdf": (
        "BNCMORTGAGEINC_05_17_1999-EX-10.4-LICENSING AND WEB SITE HOSTING AGREEMENT.PDF",
        "Hosting Agreement",
    ),
    "09_affiliate_gulfsouth.pdf": (
        "GULFSOUTHMEDICALSUPPLYINC_12_24_1997-EX-4-AFFILIATE AGREEMENT.PDF",
        "Affiliate Agreement",
    ),
    "10_strategicalliance_virtualscopics.pdf": (
        "VIRTUALSCOPICS,INC_11_12_2010-EX-10.1-STRATEGIC ALLIANCE AGREEMENT.PDF",
        "Strategic Alliance Agreement",
    ),
}
# measured only, never read (see the docstring)
CHECK5 = {
    "01_agency_banuestra.pdf": (
        "BANUESTRAFINANCIALCORP_09_08_2006-EX-10.16-AGENCY AGREEMENT.PDF",
        "Agency Agreements",
    ),
    "02_outsourcing_unitednational.pdf": (
        "UNITEDNATIONALBANCORP_03_03_1999-EX-99-Outsourcing Agreement with the BISYS Group, Inc..PDF",
        "Outsourcing",
    ),
    "03_consulting_adurobiotech.pdf": (
        "ADUROBIOTECH,INC_06_02_2020-EX-10.7-CONSULTING AGREEMENT(1).PDF",
        "Consulting Agreements",
    ),
    "04_endorsement_womensgolf.pdf": (
        "WOMENSGOLFUNLIMITEDINC_03_29_2000-EX-10.13-ENDORSEMENT AGREEMENT - Intellectual Property Rights                 Confidentiality and Non-Use Obligations Agreement.pdf",
        "Endorsement",
    ),
    "05_cobranding_ebix.pdf": (
        "EbixInc_20010515_10-Q_EX-10.3_4049767_EX-10.3_Co-Branding Agreement.pdf",
        "Co_Branding",
    ),
    "06_marketing_emmis.pdf": (
        "EmmisCommunicationsCorp_20191125_8-K_EX-10.6_11906433_EX-10.6_Marketing Agreement.pdf",
        "Marketing",
    ),
    "07_hosting_galacticomm.pdf": (
        "GALACTICOMMTECHNOLOGIESINC_11_07_1997-EX-10.46-WEB HOSTING AGREEMENT.PDF",
        "Hosting",
    ),
    "08_collaboration_leju.pdf": (
        "LEJUHOLDINGSLTD_03_12_2014-EX-10.34-INTERNET CHANNEL COOPERATION AGREEMENT.PDF",
        "Collaboration",
    ),
    "09_jointfiling_onemain.pdf": (
        "ONEMAINHOLDINGS,INC_02_20_2020-EX-99.D-JOINT FILING AGREEMENT.PDF",
        "Joint Venture _ Filing",
    ),
    "10_maintenance_zondwind.pdf": (
        "ZONDWINDSYSTEMPARTNERSLTDSERIES85-B_04_03_2006-EX-10-MANAGEMENT AND MAINTENANCE AGREEMENT.PDF",
        "Maintenance",
    ),
    "11_jointventure_transphorm.pdf": (
        "TRANSPHORM,INC_02_14_2020-EX-10.12(1)-JOINT VENTURE AGREEMENT.PDF",
        "Joint Venture",
    ),
    "12_license_glumobile.pdf": (
        "GluMobileInc_20070319_S-1A_EX-10.09_436630_EX-10.09_Content License Agreement2.pdf",
        "License_Agreements",
    ),
    "13_manufacturing_neurobo.pdf": (
        "NeuroboPharmaceuticalsInc_20190903_S-4_EX-10.36_11802165_EX-10.36_Manufacturing Agreement_ Supply Agreement.pdf",
        "Manufacturing",
    ),
    "14_noncompete_quakerchemical.pdf": (
        "Quaker Chemical Corporation - NON COMPETITION AND NON SOLICITATION AGREEMENT.PDF",
        "Non_Compete_Non_Solicit",
    ),
    "15_promotion_ashworth.pdf": (
        "ASHWORTHINC_01_29_1999-EX-10.(D)-PROMOTION AGREEMENT AND NANTZ COMMUNICATIONS, INC..PDF",
        "Promotion",
    ),
    "16_reseller_asiandragon.pdf": (
        "ASIANDRAGONGROUPINC_08_11_2005-EX-10.5-Reseller Agreement.PDF",
        "Reseller",
    ),
    "17_franchise_buffalowildwings.pdf": (
        "BUFFALOWILDWINGSINC_06_05_1998-EX-10.3-FRANCHISE AGREEMENT.PDF",
        "Franchise",
    ),
    "18_distributor_neonsystems.pdf": (
        "NEONSYSTEMSINC_03_01_1999-EX-10.5-DISTRIBUTOR AGREEMENT_New.pdf",
        "Distributor",
    ),
    "19_sponsorship_curaegis.pdf": (
        "CURAEGISTECHNOLOGIES,INC_05_26_2010-EX-1-CORPORATE SPONSORSHIP AGREEMENT.PDF",
        "Sponsorship",
    ),
    "20_supply_fusionpharma.pdf": (
        "FUSIONPHARMACEUTICALSINC_06_05_2020-EX-10.17-Supply Agreement - FUSION.PDF",
        "Supply",
    ),
}
SETS = {"train2": TRAIN2, "train3": TRAIN3, "train4": TRAIN4, "check5": CHECK5}


def spans(cell: str) -> list[str]:
    """A csv cell's spans ("['a', 'b']"), in order, each once."""
    return list(dict.fromkeys(ast.literal_eval(cell))) if cell.strip() else []


def metadata(contracts: dict[str, tuple[str, str]], clauses: Path) -> list[dict[str, object]]:
    csv.field_size_limit(2**31 - 1)  # a contract's whole text sits in one cell
    with clauses.open(encoding="utf-8", newline="") as f:
        rows = {row["Filename"]: row for row in csv.DictReader(f)}
    out: list[dict[str, object]] = []
    for file, (original, kind) in contracts.items():
        row = rows[original]
        entry: dict[str, object] = {"file": file, "original_filename": original, "contract_type": kind}
        out.append(entry | {c: spans(row[COLUMNS.get(c, c)]) for c in CATEGORIES})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", choices=sorted(SETS), required=True)
    parser.add_argument("--pdfs", type=Path, required=True, help="the set's PDF folder (see above)")
    parser.add_argument("--clauses", type=Path, required=True, help="CUAD's master_clauses.csv")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    (args.out / "contracts").mkdir(parents=True, exist_ok=True)
    contracts = SETS[args.set]
    for file, (original, _) in contracts.items():
        source = (
            args.pdfs / file if args.set == "train2" else next(args.pdfs.glob(f"*/*/{glob.escape(original)}"))
        )
        shutil.copyfile(source, args.out / "contracts" / file)
    (args.out / "metadata.json").write_text(
        json.dumps(metadata(contracts, args.clauses), indent=2), encoding="utf-8"
    )
    print(f"{len(contracts)} contracts -> {args.out}")


if __name__ == "__main__":
    main()
