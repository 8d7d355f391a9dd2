"""The audit workbook and the recovery notices, read back as an auditor and an officer would."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from openpyxl import load_workbook

from pipeline import schemas
from pipeline.report.notices import build_notices, notice_files, write_notices
from pipeline.report.workbook import write_workbook
from tests.builders import council, d


@pytest.fixture(scope="module")
def outcome():
    case = (council().bank("2025-06-03", -2500, "=HYPERLINK(\"http://x\")").bank("2025-06-04", -4500, "BET365")
            .bank("2025-06-05", -1200, "+SUM(A1)").receipt("2025-06-05", 1200, "@Supplier", category="groceries"))
    case.agreements[0]["recipient_name"] = "-Ann Example"
    return case.run()


@pytest.fixture(scope="module")
def workbook(outcome, tmp_path_factory):
    path = tmp_path_factory.mktemp("wb") / "exceptions.xlsx"
    rejections = pl.DataFrame(
        {"recipient_id": ["R1"], "source_file": ["statements/R1/x.csv"], "source_line": [0], "column": [""],
         "value": [""], "reason": ["=cmd|' /C calc'!A0"]}, schema=schemas.REJECTIONS)
    sheets = write_workbook(path, period="2025-06", version="test", policy_source="built-in defaults",
                            policy_document={"matching": {"date_window_days": 7}}, findings=outcome.findings,
                            clawback=outcome.clawback, monitoring=outcome.monitoring, transactions=outcome.transactions,
                            rejections=rejections)
    return load_workbook(path), sheets


def test_sheets_in_order(workbook):
    book, sheets = workbook
    assert book.sheetnames == sheets == ["Summary", "PROHIBITED_SPEND", "SPEND_NOT_IN_PLAN", "TRANSACTION_UNEVIDENCED",
                                         "Clawback", "Enhanced monitoring", "Rejected inputs", "Transactions"]


def test_tables_have_frozen_filtered_headers_and_typed_cells(workbook):
    book, _ = workbook
    sheet = book["PROHIBITED_SPEND"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:H2"
    assert [cell.value for cell in sheet[1]] == ["Recipient", "Severity", "Amount", "Date", "Counterparty", "Reference",
                                                 "Source (file:line)", "Detail"]
    amount, day = sheet["C2"], sheet["D2"]
    assert amount.value == 45 and "£" in amount.number_format
    assert day.value.date() == date(2025, 6, 4) and day.number_format == "dd/mm/yyyy"
    assert sheet["B2"].fill.fgColor.rgb.endswith("F8CBAD")  # high severity
    assert sheet["G2"].value == "statements/R1/s1.csv:4"
    assert sheet.column_dimensions["H"].width > 20
    assert sheet.print_title_rows == "$1:$1" and sheet.page_setup.orientation == "landscape"


def test_summary_links_to_every_rule_sheet_and_has_charts(workbook):
    book, sheets = workbook
    summary = book["Summary"]
    links = {cell.value: cell.hyperlink.location for row in summary.iter_rows() for cell in row if cell.hyperlink}
    for rule in sheets[1:4]:
        assert links[rule] == f"'{rule}'!A1"
    assert links["Rejected inputs: 1 file, 0 rows"] == "'Rejected inputs'!A1"
    assert len(summary._charts) == 2


def test_summary_gives_the_totals_of_the_clawback(workbook, outcome):
    """An auditor reads the totals the CLI and Prefect print from the workbook too (an audit found them missing)."""
    book, _ = workbook
    rows = {row[0].value: [cell.value for cell in row[1:]] for row in book["Summary"].iter_rows() if row[0].value}
    clawback = outcome.clawback.row(0, named=True)
    assert rows["Recipients monitored"][0] == 1
    assert rows["Recommended recovery"][0] == Decimal(clawback["recommended_recovery_pence"]) / 100 > 0
    assert rows["Unevidenced (evidence requested)"][0] == Decimal(clawback["unevidenced_pence"]) / 100 > 0
    assert rows["Closing balance unknown (surplus not judged)"][0] == 0  # the first line's balance is carried on
    assert rows["Severity"][:2] == ["Findings", None] and rows["high"][0] == outcome.findings.filter(pl.col("severity") == "high").height


def test_formula_text_is_neutralised_everywhere(workbook):
    book, _ = workbook
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r")), f"{sheet.title}!{cell.coordinate}"
    assert book["TRANSACTION_UNEVIDENCED"]["E2"].value == "'=HYPERLINK(\"http://x\")"
    assert book["Rejected inputs"]["F2"].value == "'=cmd|' /C calc'!A0"


def test_clawback_sheet_amounts_are_exact(workbook, outcome):
    book, _ = workbook
    sheet = book["Clawback"]
    header = [cell.value for cell in sheet[1]]
    row = dict(zip(header, [cell.value for cell in sheet[2]]))
    assert row["Recipient"] == "R1" and row["Name"] == "'-Ann Example"
    assert Decimal(str(row["Misuse"])) == Decimal("57.00")  # 45.00 prohibited + 12.00 not in plan
    assert Decimal(str(row["Unevidenced"])) == Decimal("25.00")


def test_notices_state_reasons_amounts_deadline_payer_and_appeal(outcome, tmp_path):
    from docx import Document

    notices = build_notices(outcome.findings, outcome.clawback, outcome.books.agreements, date(2025, 7, 2), 28)
    assert [(n.recipient_id, n.recovery_pence, n.misuse_pence, n.unevidenced_pence) for n in notices] == [("R1", 5700, 5700, 2500)]
    [path] = write_notices(notice_files(notices, "2025-06"), tmp_path)
    text = "\n".join(p.text for p in Document(path).paragraphs)
    tables = ["\n".join(cell.text for row in t.rows for cell in row.cells) for t in Document(path).tables]
    assert "DRAFT" in text
    assert "Amount to repay: £57.00" in text
    assert "Please repay £57.00 by 30 July 2025" in text
    assert "you, as the holder of the direct payment account" in text
    assert "Evidence we need: £25.00" in text and "We are not asking you to repay them" in text
    assert "right to ask us to reconsider" in text
    assert "BET365" in tables[0] and "£45.00" in tables[0] and "4 June 2025" in tables[0] and "(from s1.csv, line 4)" in tables[0]
    assert "£25.00" in tables[1] and "£45.00" not in tables[1]
    # the letter's own styles survive the template's trimming
    styles = {p.text: p.style.name for p in Document(path).paragraphs}
    assert styles["Direct payment: recovery of funds"] == "Heading 1" and styles["Amount to repay: £57.00"] == "Heading 2"
    assert styles["Date: 2 July 2025"] == "Normal"
    assert {t.style.name for t in Document(path).tables} == {"Light Grid Accent 1"}


def test_notice_package_holds_only_what_it_names(outcome):
    """Every part the letter's relationships and content types name is in it, and nothing else: not the
    template's 438 kB of Word 2010 styles nor its preview picture, which each letter once carried."""
    import io
    import posixpath
    import re
    import zipfile

    notices = build_notices(outcome.findings, outcome.clawback, outcome.books.agreements, date(2025, 7, 2), 28)
    [data] = notice_files(notices, "2025-06").values()
    archive = zipfile.ZipFile(io.BytesIO(data))
    parts = set(archive.namelist())
    named = {"[Content_Types].xml", "_rels/.rels"}
    for rels in (name for name in parts if name.endswith(".rels")):
        base = posixpath.dirname(posixpath.dirname(rels))
        for target, mode in re.findall(r'Target="([^"]+)"(?: TargetMode="(\w+)")?', archive.read(rels).decode()):
            if mode != "External":
                named.add(posixpath.normpath(posixpath.join(base, target)).lstrip("/"))
        named.add(rels)
    overrides = {name.lstrip("/") for name in re.findall(r'PartName="([^"]+)"', archive.read("[Content_Types].xml").decode())}
    assert parts == named
    assert overrides <= parts
    assert not any("stylesWithEffects" in name or name.endswith(".jpeg") for name in parts)
    assert len(data) < 20_000


def test_a_notice_explains_the_surplus_and_the_cash_in_plain_words(tmp_path):
    """An audit found the surplus as "closing balance 9655.97 less contingency allowed 2400.00 less ...", the cash
    shortfall dated the period's last day and paid to no one, ISO dates, and no place for a managing organisation."""
    from docx import Document

    case = council().bank("2025-06-10", -2000, "CASH WITHDRAWAL", balance=98000).bank("2025-06-30", 402000, "TOP UP", balance=500000)
    case.agreements[0]["mechanism"] = "third_party"
    outcome = case.run()
    [notice] = build_notices(outcome.findings, outcome.clawback, outcome.books.agreements, date(2025, 7, 2), 28)
    [path] = write_notices(notice_files([notice], "2025-06"), tmp_path)
    document = Document(path)
    text = "\n".join(p.text for p in document.paragraphs)
    assert ("At the end of June 2025 the account held £5,000.00. You may keep £1,846.15 for unexpected costs (the contingency "
            "your agreement allows). The rest, £3,153.85, is more than the agreed support needs.") in text
    assert "[Officer: the organisation that manages the account, and its address]" in text
    assert "the organisation that manages the direct payment account" in text and "reviewed the direct payment account for June 2025" in text
    assert "For cash taken out, send the receipts for what the cash was spent on." in text
    [cash] = [[cell.text for cell in row.cells] for row in document.tables[0].rows[1:]]
    assert cash == ["June 2025", "cash withdrawals", "£20.00",
                    "cash taken out that receipts for spending in cash do not cover (from s1.csv, line 3)"]


def test_a_notice_asks_to_evidence_only_the_cash_withdrawn_within_the_agreement():
    """CASH_WITHDRAWAL_UNEVIDENCED is the contract's whole shortfall, 130.00; 100.00 of it, withdrawn after the
    agreement ended, is to be repaid, so the letter asks for evidence of 30.00, and of nothing when all is misuse."""
    case = council().bank("2025-06-10", -3000, "ATM HIGH ST").bank("2025-06-25", -10000, "ATM CASH WITHDRAWAL")
    case.agreements[0]["end_date"] = d("2025-06-20")
    outcome = case.run()
    [notice] = build_notices(outcome.findings, outcome.clawback, outcome.books.agreements, date(2025, 7, 2), 28)
    assert [(item.amount_pence, item.is_cash) for item in notice.unevidenced] == [(3000, True)]
    assert (notice.unevidenced_pence, notice.misuse_pence, [item.amount_pence for item in notice.misuse]) == (3000, 10000, [10000])
    alone = council().bank("2025-06-25", -10000, "ATM CASH WITHDRAWAL")
    alone.agreements[0]["end_date"] = d("2025-06-20")
    outcome = alone.run()
    [notice] = build_notices(outcome.findings, outcome.clawback, outcome.books.agreements, date(2025, 7, 2), 28)
    assert (notice.unevidenced, notice.unevidenced_pence, notice.misuse_pence) == ([], 0, 10000)


def test_evidence_only_notice_demands_nothing(tmp_path):
    from docx import Document

    outcome = council().bank("2025-06-03", -2500, "SHOP").run()
    [notice] = build_notices(outcome.findings, outcome.clawback, outcome.books.agreements, date(2025, 7, 2), 28)
    assert not notice.demands_repayment
    [path] = write_notices(notice_files([notice], "2025-06"), tmp_path)
    text = "\n".join(p.text for p in Document(path).paragraphs)
    assert "request for evidence" in text and "Amount to repay" not in text and "Please repay" not in text
    assert "reconsider this decision" not in text and "If you think we have this wrong" in text  # nothing was decided


def test_manifest_json_is_the_manifest_with_one_line_per_input():
    import json

    from pipeline.report.write import _manifest_json

    manifest = {"period": "2025-06", "inbound": '"inputs": null', "inputs": [{"file": "a.csv", "rows": 1}, {"file": "b", "rows": None}],
                "timings_seconds": {"read": 1.5}}
    text = _manifest_json(manifest)
    assert json.loads(text) == manifest
    assert '    {"file": "a.csv", "rows": 1},\n    {"file": "b", "rows": null}\n' in text
    assert json.loads(_manifest_json({**manifest, "inputs": []}))["inputs"] == []


def test_notices_hold_text_that_xml_cannot(tmp_path):
    from docx import Document

    outcome = council().bank("2025-06-03", -2500, "SHOP \ufffe\uffff\x07 LTD").run()
    notices = build_notices(outcome.findings, outcome.clawback, outcome.agreements, date(2025, 7, 2), 28)
    [path] = write_notices(notice_files(notices, "2025-06"), tmp_path)
    table = "\n".join(cell.text for t in Document(path).tables for row in t.rows for cell in row.cells)
    assert "SHOP     LTD" in table


def test_notices_built_together_are_each_recipients_own(tmp_path):
    """Notices are built for every recipient at once; each is what that recipient's findings alone give."""
    from pipeline.ingest.inbound import discover
    from pipeline.ingest.load import read_files
    from pipeline.ingest.plans import UNREAD_PLANS
    from pipeline.period import Period
    from pipeline.policy import load_policy
    from pipeline.reconcile.run import reconcile
    from pipeline.synthetic import ANOMALIES, generate

    generate(tmp_path, "2025-06", recipients=len(ANOMALIES) + 4, anomalies=list(ANOMALIES) * 2, purchases=4)
    batch = read_files(discover(tmp_path).files)
    frames = {name: batch.frame(name) for name in batch.frames} | {"unread_plans": schemas.empty(UNREAD_PLANS)}
    outcome = reconcile(frames, schemas.empty(schemas.REJECTIONS), load_policy(None), Period.parse("2025-06"))
    everyone = build_notices(outcome.findings, outcome.clawback, outcome.agreements, date(2025, 7, 2), 28)

    assert len(everyone) >= 5
    assert any(n.misuse for n in everyone) and any(n.unevidenced for n in everyone) and any(n.surplus_pence for n in everyone)
    assert [n.recipient_id for n in everyone] == sorted(n.recipient_id for n in everyone)
    for notice in everyone:
        def own(frame: pl.DataFrame) -> pl.DataFrame:
            return frame.filter(pl.col("recipient_id") == notice.recipient_id)

        assert build_notices(own(outcome.findings), own(outcome.clawback), own(outcome.agreements), date(2025, 7, 2), 28) == [notice]


def test_summary_gives_a_rule_the_severities_of_its_findings(outcome, tmp_path):
    """INPUT_REJECTED is medium for a file and low for a row: the Summary says both, filled as the higher
    (an audit found it said medium alone, against the rows' low)."""
    rejected = outcome.findings.head(2).with_columns(rule=pl.lit("INPUT_REJECTED"), severity=pl.Series(["low", "medium"]))
    write_workbook(tmp_path / "x.xlsx", period="2025-06", version="test", policy_source="built-in defaults", policy_document={},
                   findings=pl.concat([outcome.findings, rejected]), monitoring=outcome.monitoring,
                   clawback=outcome.clawback.with_columns(closing_balance_pence=pl.lit(None, pl.Int64)),  # a Monzo export's
                   transactions=outcome.transactions, rejections=schemas.empty(schemas.REJECTIONS))
    rows = {row[0].value: row for row in load_workbook(tmp_path / "x.xlsx")["Summary"].iter_rows() if row[0].value}
    assert rows["Closing balance unknown (surplus not judged)"][1].value == 1
    assert [cell.value for cell in rows["INPUT_REJECTED"][1:3]] == ["medium, low", 2]
    assert rows["INPUT_REJECTED"][1].fill.fgColor.rgb == rows["SPEND_NOT_IN_PLAN"][1].fill.fgColor.rgb  # medium's
    assert rows["PROHIBITED_SPEND"][1].value == "high"
