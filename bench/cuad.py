"""CUAD contract questions with gold pages and gold boxes, shared by the retrieval, answer and peer benches.

Each labelled category is asked in three phrasings (index 0 formal, 1 plain, 2 terse as typed), written
once by hand and never tuned on. Scope "within" asks about "this agreement" (search filtered to its
contract); scope "across" names the agreement and its parties (a hand-written label per contract, from
its first page), the way users search one knowledge base of every contract. Gold evidence is every
annotated span of that category found on a page: its page (1-based) and its boxes from PyMuPDF
`search_for` (normalized 0..1, top-left).

    .venv/bin/python bench/cuad.py [CUAD_DIR]   # counts questions and prints each phrasing once
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pymupdf

from ingest.layout import BBox

Scope = Literal["within", "across"]

# (within form, across form with {label}) per phrasing; the first is the original formal question.
PHRASINGS: dict[str, list[tuple[str, str]]] = {
    "Document Name": [
        ("What is the name of this agreement?", "What is the name of {label}?"),
        ("What is this contract called?", "What is {label} called?"),
        ("contract title", "{label}: contract title"),
    ],
    "Parties": [
        ("Who are the parties to this agreement?", "Who are the parties to {label}?"),
        ("Which companies signed this contract?", "Which companies signed {label}?"),
        ("who signed this", "{label}: who signed it"),
    ],
    "Agreement Date": [
        ("What is the date of this agreement?", "What is the date of {label}?"),
        ("On what date was this contract made?", "On what date was {label} made?"),
        ("date signed", "{label}: date signed"),
    ],
    "Effective Date": [
        ("When does this agreement become effective?", "When does {label} become effective?"),
        ("From what date does this contract take effect?", "From what date does {label} take effect?"),
        ("when does it start?", "{label}: when does it start?"),
    ],
    "Expiration Date": [
        ("When does this agreement expire?", "When does {label} expire?"),
        ("How long does this contract last?", "How long does {label} last?"),
        ("when does it end?", "{label}: when does it end?"),
    ],
    "Renewal Term": [
        ("What is the renewal term of this agreement?", "What is the renewal term of {label}?"),
        (
            "Does this contract renew automatically, and for how long?",
            "Does {label} renew automatically, and for how long?",
        ),
        ("does it auto renew?", "{label}: does it auto renew?"),
    ],
    "Notice Period To Terminate Renewal": [
        (
            "How much notice is required to terminate the renewal of this agreement?",
            "How much notice is required to terminate the renewal of {label}?",
        ),
        (
            "How far in advance must a party give notice to stop this contract from renewing?",
            "How far in advance must a party give notice to stop {label} from renewing?",
        ),
        ("notice period to cancel renewal", "{label}: notice period to cancel renewal"),
    ],
    "Governing Law": [
        ("What is the governing law of this agreement?", "What is the governing law of {label}?"),
        ("Which jurisdiction's laws govern this contract?", "Which jurisdiction's laws govern {label}?"),
        ("which state's law applies?", "{label}: which state's law applies?"),
    ],
}

# Other phrasings, written after the search and answer rules were tuned and never used to tune them:
# `--unseen` in the retrieval and answer benches asks these instead, to see whether the rules overfit.
UNSEEN: dict[str, list[tuple[str, str]]] = {
    "Document Name": [("What's the title of this document?", "What's the title of {label}?")],
    "Parties": [("Between whom is this deal?", "Between whom is {label}?")],
    "Agreement Date": [("When was this agreement entered into?", "When was {label} entered into?")],
    "Effective Date": [("What is the commencement date?", "What is the commencement date of {label}?")],
    "Expiration Date": [("What is the duration of this agreement?", "What is the duration of {label}?")],
    "Renewal Term": [
        (
            "Is this contract extended automatically at the end?",
            "Is {label} extended automatically at the end?",
        )
    ],
    "Notice Period To Terminate Renewal": [
        (
            "How many days before renewal must notice be sent?",
            "How many days before renewal of {label} must notice be sent?",
        )
    ],
    "Governing Law": [
        ("Under which state's laws is this interpreted?", "Under which state's laws is {label} interpreted?")
    ],
}

# Written by hand from each PDF's first page: the agreement's title and its parties' usual names.
LABELS: dict[str, str] = {
    "01_service_gpaq": "the Sponsorship and Services Agreement between HOF Village, the Pro Football Hall of "
    "Fame and Constellation NewEnergy",
    "02_service_reynolds": "the Transition Services Agreement between Reynolds Group Holdings and Reynolds "
    "Consumer Products",
    "03_service_verizon": "the Transfer and Servicing Agreement among Verizon Owner Trust 2020-A, Verizon ABS "
    "and Cellco Partnership (Verizon Wireless)",
    "04_service_integrity": "the Distribution and Services Agreement between the Integrity Short Term "
    "Government Fund and Integrity Funds Distributor",
    "05_license_gopage": "the Website Content License Agreement between PSiTech and Empirical Ventures",
    "06_license_morganstanley": "the Trademark License Agreement between Morgan Stanley Investment "
    "Management and Morgan Stanley Direct Lending Fund",
    "07_license_cytodyn": "the Commercialization and License Agreement between Vyera Pharmaceuticals and CytoDyn",
    "08_license_artara": "the Sponsored Research and License Agreement between ArTara and the University of Iowa",
    "09_outsourcing_photronics": "the Outsourcing Agreement among Photronics, Dai Nippon Printing and "
    "Photronics DNP Photomask",
    "10_outsourcing_paratek": "the Outsourcing Agreement between Paratek Pharmaceuticals and Carbogen Amcis",
    # the CUAD test split (vlad-ds/complyflow cuad/test at 338f27e, not shipped), an outside check:
    # written from its metadata's document names and parties
    "01_service_mplx": "the Transportation Services Agreement between Marathon Petroleum Company and Marathon "
    "Pipe Line",
    "02_service_martinmidstream": "the Marine Transportation Agreement between Midstream Fuel Service and Martin "
    "Operating Partnership",
    "03_service_blackstonegsolo": "the Service Agreement for Transfer Agent Services between Mellon Investor "
    "Services and the Blackstone / GSO Long-Short Credit Income Fund",
    "04_service_atmosenergy": "the Transportation Service Agreement between Arkansas Western Pipeline Company and "
    "Associated Natural Gas Company",
    "05_license_pacificapentert": "the Content License Agreement between Pacificap Entertainment and the Henry "
    "Film and Entertainment Corporation",
    "06_license_midwestenergyem": "the Content License Agreement between Digicorp and New China Media, YGP and "
    "TWK Holdings",
    "07_license_gpaqacquisition": "the Media License Agreement between the National Football Museum (Pro "
    "Football Hall of Fame) and HOF Village Media Group",
    "08_license_euromediaholdin": "the Video-on-Demand Content License Agreement between Rogers Cable "
    "Communications and EuroMedia Holdings",
    "09_outsourcing_sykeshealthplan": "the Outsourcing Agreement between Sykes HealthPlan Services and HealthPlan "
    "Services",
    "10_outsourcing_ofgban": "the Technology Outsourcing Agreement between Metavante Corporation and Oriental "
    "Financial Group",
    # 10 more CUAD contracts to tune on (vlad-ds/complyflow cuad/train_2 at 338f27e, not shipped; built by
    # bench/cuad_sets.py --set train2): written from their document names and parties
    "01_license_alliedesports": "the Joint Content License Agreement between WPT Enterprises and Zynga",
    "02_license_datacall": "the Content Licensing Agreement between Data Call Technologies and plan_b Media",
    "03_distributor_fusemedical": "the Distributorship Agreement between Signature Orthopaedics and CPM Medical "
    "Consultants",
    "04_distributor_scansource": "the Addendum to the Zebra PartnerConnect Distributor Agreement between Zebra "
    "Technologies and ScanSource",
    "05_development_aimmune": "the License, Development and Commercialization Agreement between Xencor and Aimmune "
    "Therapeutics",
    "06_development_conformis": "the Development Agreement between Howmedica Osteonics (Stryker) and Conformis",
    "07_maintenance_atninternational": "the Network Build and Maintenance Agreement between AT&T Mobility and "
    "Commnet Wireless",
    "08_maintenance_bloomenergy": "the Master Operation and Maintenance Agreement between Diamond State Generation "
    "Partners and Bloom Energy",
    "09_outsourcing_ferroglobe": "the Outsourcing Agreement between Silicon Smelters and Espacio Information "
    "Technology",
    "10_outsourcing_imperialgarden": "the Outsourcing Contract on Development of Miaoli Royal Resort Hotel between "
    "Huang Jia Country Club and Recreation and Chang Chen-Bin Architects Office",
    # train3, ten more (CUAD's full_contract_pdf, bench/cuad_sets.py --set train3): from each first page
    "01_affiliate_usio": "the Affiliate Office Agreement between Network 1 Financial and Payment Data Systems",
    "02_promotion_vnue": "the Promotion Agreement between BookingEntertainment.com and VNUE",
    "03_cobranding_ediets": "the Co-Branding Agreement between Women.com Networks and eDiets.com",
    "04_reseller_ipass": "the Channel Partner Reseller Agreement between iPass and Pareteum",
    "05_supply_agapeatp": "the ODM Supply Agreement between Organic Preparations and Agape ATP International",
    "06_franchise_rgcresources": "the Gas Franchise Agreement between the Town of Vinton and Roanoke Gas Company",
    "07_manufacturing_bellring": "the Manufacturing Agreement between Stremicks Heritage Foods and Premier Nutrition",
    "08_ip_cerence": "the Intellectual Property Agreement between Nuance Communications and Cerence",
    "09_endorsement_legacyeducation": "the Talent Endorsement Agreement between Tigrent Learning UK, Celebrity "
    "Speakers and Robbie Fowler",
    "10_transportation_penntex": "the Gas Transportation Agreement between PennTex North Louisiana Operating and "
    "MRD Operating",
    # train4, ten more (bench/cuad_sets.py --set train4): from each first page
    "01_collaboration_allison": "the Cooperation Agreement between Allison Transmission Holdings and the ValueAct "
    "Group",
    "02_endorsement_ambassador": "the Endorsement Agreement between Kathy Ireland, Inc., The Sterling/Winters Co. "
    "and Diplomat Ambassador Eyewear Group",
    "03_marketing_principal": "the Broker Dealer Marketing and Servicing Agreement between Principal Life Insurance "
    "Company and Princor Financial Services",
    "04_sponsorship_looksmart": "the Sponsorship Agreement between PEEK Investments and its Sponsors",
    "05_noncompete_vivint": "the Non-Competition Agreement Amendment No. 1 between Vivint Solar and Vivint",
    "06_consulting_slingerbag": "the Consulting Agreement between Slinger Bag and Aitan Zacharin",
    "07_jointventure_novo": "the Joint Venture Agreement between Novo Integrated Sciences and Harvest Gold Farms",
    "08_hosting_bncmortgage": "the Licensing and Web Site Hosting Agreement between Mortgage Logic.com and TrueLink",
    "09_affiliate_gulfsouth": "the Affiliate Agreement between a Gulf South Medical Supply shareholder and Physician "
    "Sales & Service",
    "10_strategicalliance_virtualscopics": "the Strategic Alliance Agreement between PPD Development and "
    "VirtualScopics",
}


@dataclass
class Hit:
    """One retrieved result of a pipeline: its page, and its boxes when the pipeline can locate it (peers
    cannot)."""

    page: int | None
    boxes: list[Any] | None = None
    file: str | None = None  # the file name the hit comes from


@dataclass
class GoldSpan:
    text: str
    page: int
    boxes: list[BBox] = field(default_factory=list)


@dataclass
class CuadQuestion:
    file: Path
    category: str
    question: str
    gold: list[GoldSpan]
    phrasing: int = 0  # index into PHRASINGS[category]
    scope: Scope = "within"

    @property
    def doc_id(self) -> str:
        return self.file.stem

    @property
    def gold_pages(self) -> set[int]:
        return {g.page for g in self.gold}


def is_tuning(doc_id: str) -> bool:
    """Odd-numbered contracts tune; even-numbered ones are held out (each half: 2 service, 2 licence, 1 outsourcing)."""
    return int(doc_id.split("_", 1)[0]) % 2 == 1


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _locate(doc: pymupdf.Document, span: str) -> list[GoldSpan]:
    """On the first page whose text holds the span (whitespace-normalized), each place it is written,
    with search_for boxes: a span that occurs twice on the page (a title repeated in the preamble) is
    two gold spans, not one box around both."""
    wanted = _norm(span)
    for index in range(doc.page_count):
        page = doc[index]
        if wanted not in _norm(page.get_text()):
            continue
        size = (page.rect.width, page.rect.height)
        # search_for matches within a page; long spans are found by their first words' lines
        needle = span.strip() if page.search_for(span.strip()) else " ".join(span.split()[:8])
        return [
            GoldSpan(
                text=span,
                page=index + 1,
                boxes=[BBox.from_points((r.x0, r.y0, r.x1, r.y1), size) for r in rects],
            )
            for rects in _occurrences(page, page.search_for(needle), _norm(needle))
        ]
    return []


def _occurrences(page: pymupdf.Page, rects: list[pymupdf.Rect], needle: str) -> list[list[pymupdf.Rect]]:
    """search_for's rectangles grouped by occurrence: one per line of the match, consecutive."""
    groups: list[list[pymupdf.Rect]] = []
    current: list[pymupdf.Rect] = []
    for rect in rects:
        current.append(rect)
        if needle in _norm(" ".join(page.get_textbox(r) for r in current)):
            groups.append(current)
            current = []
    return groups + ([current] if current else [])


def phrase(
    category: str, index: int, scope: Scope, doc_id: str, phrasings: dict[str, list[tuple[str, str]]]
) -> str:
    within, across = phrasings[category][index]
    return within if scope == "within" else across.format(label=LABELS[doc_id])


def load_questions(cuad_dir: Path, scope: Scope = "within", unseen: bool = False) -> list[CuadQuestion]:
    """One question per (contract, category with a located span, phrasing); `unseen`: the UNSEEN ones."""
    phrasings = UNSEEN if unseen else PHRASINGS
    meta = json.loads((cuad_dir / "metadata.json").read_text(encoding="utf-8"))
    questions: list[CuadQuestion] = []
    for entry in meta:
        path = cuad_dir / "contracts" / entry["file"]
        with pymupdf.open(path) as doc:
            for category, forms in phrasings.items():
                spans = [s for s in entry.get(category, []) if len(s.strip()) >= 4]
                gold = [g for s in spans for g in _locate(doc, s)]
                questions += [
                    CuadQuestion(
                        path, category, phrase(category, i, scope, path.stem, phrasings), gold, i, scope
                    )
                    for i in range(len(forms))
                    if gold
                ]
    return questions


if __name__ == "__main__":
    import sys

    root = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).resolve().parents[2] / "shared/testdata/cuad-dev"
    )
    qs = load_questions(root)
    with_box = sum(1 for q in qs if any(g.boxes for g in q.gold))
    print(f"{len(qs)} questions over {len({q.file for q in qs})} contracts; {with_box} with a gold box")
    for q in load_questions(root, "across")[:24]:
        print(f"  [{q.category} #{q.phrasing}] {q.question}")
