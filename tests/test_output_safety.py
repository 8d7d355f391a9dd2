"""Formula text in every text field is neutralised in every spreadsheet output; accounts show four digits."""

from __future__ import annotations

import csv
import zipfile
from datetime import date

import polars as pl
import pytest

from pipeline import schemas
from pipeline.period import Period
from pipeline.report.notices import build_notices, notice_files, write_notices
from pipeline.report.workbook import write_workbook
from pipeline.report.write import write_tables
from tests.builders import council

FORMULAS = ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=x", "\r=y", "AMAZON\x0bMARKET\x00PLACE"]


def hostile_outcome():
    case = council()
    case.agreements[0].update(recipient_name=FORMULAS[0], plan_ref=FORMULAS[1])
    for index, text in enumerate(FORMULAS):
        case.bank(f"2025-06-{index + 3:02d}", -(1000 + index), text)
        case.receipt(f"2025-06-{index + 3:02d}", 500 + index, supplier=text, receipt_id=text, category=text,
                     supplier_vat_number=text, net_pence=400, vat_pence=100 + index)
    case.bank("2025-06-20", -100, "OTHER ACCOUNT", account="87654321", statement="other.csv")
    # a receipt's own text quoting account numbers (its id is a reference, shown as written)
    case.bank("2025-06-21", -2000, "PA WAGES")
    case.receipt("2025-06-21", 2000, supplier="Payee 99745048", receipt_id="R-77", category="acct GB29NWBK60161355667788")
    case.council_payment("2025-06-15", 99999, reference=FORMULAS[3])
    return case.run()


def test_every_output_is_safe(tmp_path):
    outcome = hostile_outcome()
    period = Period.parse("2025-06")
    rejections = pl.DataFrame({"recipient_id": ["R1"], "source_file": [FORMULAS[2]], "source_line": [0], "column": [""],
                               "value": [FORMULAS[4]], "reason": [FORMULAS[5]]}, schema=schemas.REJECTIONS)
    write_tables(outcome, period, tmp_path)
    write_workbook(tmp_path / "exceptions.xlsx", period="2025-06", version="t", policy_source="p", policy_document={},
                   findings=outcome.findings, clawback=outcome.clawback, monitoring=outcome.monitoring,
                   transactions=outcome.transactions, rejections=rejections)
    notices = build_notices(outcome.findings, outcome.clawback, outcome.books.agreements, date(2025, 7, 2), 28)
    write_notices(notice_files(notices, "2025-06"), tmp_path / "notices")
    cells = 0
    for path in tmp_path.glob("*.csv"):
        with path.open(newline="") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    cells += 1
                    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) or _is_number(cell), (path.name, cell)
    from openpyxl import load_workbook

    for sheet in load_workbook(tmp_path / "exceptions.xlsx").worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r")), (sheet.title, cell.value)
    assert cells > 100
    everything = b"".join(path.read_bytes() for path in tmp_path.rglob("*.csv"))
    everything += b"".join(zipfile.ZipFile(path).read(name) for path in tmp_path.rglob("*.[xd][lo][sc]x")
                           for name in zipfile.ZipFile(path).namelist())
    for number in (b"87654321", b"12345678", b"99745048", b"55667788"):
        assert number not in everything, number
    assert b"Payee ****5048" in everything
    assert b"****4321" in everything


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def test_account_numbers_in_descriptions_and_rejected_cells_show_four_digits(tmp_path):
    """A transfer's description, a row rejected whole and a bad account cell each quote an account number."""
    from pipeline.ingest.inbound import discover
    from pipeline.ingest.load import read_files, rejections_frame

    inbound = tmp_path / "inbound"
    (inbound / "statements" / "R1").mkdir(parents=True)
    (inbound / "agreements.csv").write_text(
        "recipient_id,recipient_name,mechanism,start_date,payment_amount,payment_frequency,first_payment_date,account_number\n"
        "R1,A,direct,2025-01-01,100.00,monthly,2025-01-01,30-96-34 52763335\n")
    (inbound / "statements" / "R1" / "s.csv").write_text(
        "Date,Description,Amount,Balance\n01/06/2025,TFR FROM 309634 23715389 SAVINGS,10.00,20.00\n"
        "02/06/2025,TFR 11112222 TO 33334444,-1.00,19.00,99745048\n03/06/2025,CARD 4929123456781234,-1.00,18.00\n"
        "04/06/2025,TFR TO GB29NWBK60161310154622,-1.00,17.00\n05/06/2025,FP 40478410154622 REF 1234567,-1.00,16.00\n")
    batch = read_files(discover(inbound).files)
    lines = batch.frame("transactions")
    # an account number alone, a card number, an IBAN, a sort code run together with its account; not a shorter reference
    assert lines["description"].to_list() == ["TFR FROM 309634 ****5389 SAVINGS", "CARD ****1234", "TFR TO GB29NWBK****4622",
                                              "FP ****4622 REF 1234567"]
    rejected = rejections_frame(batch).select("value", "reason").rows()
    shown = repr(rejected)
    for number in ("52763335", "99745048", "11112222", "33334444"):
        assert number not in shown
    assert "****3335" in shown and "****5048" in shown


def test_a_long_run_of_digits_after_a_folder_is_masked():
    """16,000 digits in a value the data docs quote (Python's re once took 2.7 s on it: the run is now taken
    whole, possessively)."""
    from pipeline.accounts import mask_account_numbers, mask_account_numbers_in

    text = "statements/a/" + "1" * 16000 + "x"
    assert mask_account_numbers_in(text) == "statements/a/****1111x"
    assert pl.DataFrame({"t": [text]}).select(mask_account_numbers(pl.col("t"), paths=True))["t"][0] == "statements/a/****1111x"


def test_account_numbers_side_by_side_are_each_masked():
    """A match takes the character after it, which may be the one before the next number: masking runs twice."""
    from pipeline.accounts import mask_account_numbers, mask_account_numbers_in

    text = "TFR 11112222 33334444,55556666"
    masked = "TFR ****2222 ****4444,****6666"
    assert pl.DataFrame({"t": [text]}).select(mask_account_numbers(pl.col("t")))["t"][0] == masked
    assert mask_account_numbers_in(text) == masked


@pytest.mark.parametrize(("text", "masked"), [
    # a numeric recipient id is a folder of the path a detail cites, shown as source_file shows it (a red team
    # found "receipts/****5678/r.csv", a path that does not exist)
    ("receipts/12345678/r.csv:2 repeats statements/12345678/s.csv:4", "receipts/12345678/r.csv:2 repeats statements/12345678/s.csv:4"),
    ("payroll/12345678/p.csv:2, paid from 99998888", "payroll/12345678/p.csv:2, paid from ****8888"),
    ("TFR 12345678/receipts", "TFR ****5678/receipts"),
    # a file name is shown as source_file shows it: banks name exports by date or account ("Statement_20250630.csv",
    # Lloyds' "99966633_20171224_2043.csv"); a red team found the dated ones masked in every detail
    ("receipts/R1/12345678.csv", "receipts/R1/12345678.csv"),
    ("withdrawals at statements/R1/Statement_20250630.csv:3, statements/R1/Statement_20250731.csv:2",
     "withdrawals at statements/R1/Statement_20250630.csv:3, statements/R1/Statement_20250731.csv:2"),
    ("statements/R1/99966633_20171224_2043.csv:4", "statements/R1/99966633_20171224_2043.csv:4"),
    ("receipts/12345678/June 20250630 receipts.xlsx:2", "receipts/12345678/June 20250630 receipts.xlsx:2"),
    ("statements/R1/s.csv:3 TFR 99998888.csv", "statements/R1/s.csv:3 TFR ****8888.csv"),  # past its line: text
    ("statements/R1/Statement 20250630 to 99998888", "statements/R1/Statement ****0630 to ****8888"),  # no suffix: not a name
    # text after a path cited without its line is not part of the name (a review found these shown whole)
    ("statements/R1/june.csv balance after TFR 12345678 was 1,234.50", "statements/R1/june.csv balance after TFR ****5678 was 1,234.50"),
    ("receipts/R1/ has files; account 12345678 is in r.csv", "receipts/R1/ has files; account ****5678 is in r.csv"),
    ("a\x0012345678\x00b", "a****5678b"),  # the text's own NULs cannot fence an account number
    # ids of letters and digits, folders in another case, a folder cited alone (a review found these masked)
    ("receipts/DP12345678/r.csv:2", "receipts/DP12345678/r.csv:2"),
    ("Receipts/12345678-2/r.csv:2", "Receipts/12345678-2/r.csv:2"),
    ("folder 'statements/12345678' cannot be listed", "folder 'statements/12345678' cannot be listed"),
    ("xreceipts/12345678/a", "xreceipts/****5678/a"),
])
def test_a_recipient_folder_in_a_path_is_not_an_account_number(text, masked):
    from pipeline.accounts import mask_account_numbers, mask_account_numbers_in

    assert pl.DataFrame({"t": [text]}).select(mask_account_numbers(pl.col("t"), paths=True))["t"][0] == masked
    assert mask_account_numbers_in(text) == masked


def test_summary_neutralises_at_sign_tab_and_cr(tmp_path):
    from openpyxl import load_workbook
    from pipeline.report.workbook import write_workbook
    for name in ("@SUM(A1)", "\t=x", "\r=y"):
        case = council().bank("2025-06-03", -4500, "BET365")
        case.agreements[0]["recipient_name"] = name
        outcome = case.run()
        path = tmp_path / "x.xlsx"
        write_workbook(path, period="2025-06", version="t", policy_source="p", policy_document={}, findings=outcome.findings,
                       clawback=outcome.clawback, monitoring=outcome.monitoring, transactions=outcome.transactions,
                       rejections=schemas.empty(schemas.REJECTIONS))
        values = [cell.value for row in load_workbook(path)["Summary"].iter_rows() for cell in row if isinstance(cell.value, str)]
        assert not [v for v in values if v.startswith(("=", "+", "-", "@", "\t", "\r"))], name
