"""Each reason an input is refused, with the exact words a finance officer reads."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipeline import schemas
from pipeline.ingest.bank_csv import supported_layouts
from pipeline.ingest.inbound import InboundUnusable, discover
from pipeline.ingest.load import read_files, split_known
from pipeline.ingest.statements import read_statement
from pipeline.ingest.text import UnreadableFile

AGREEMENTS = "recipient_id,recipient_name,mechanism,start_date,payment_amount,payment_frequency,first_payment_date\n"


def statement_error(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UnreadableFile) as raised:
        read_statement(path, data, name, "R1")
    return str(raised.value)


def test_unknown_layout_names_the_supported_ones(tmp_path):
    message = statement_error(tmp_path, "s.csv", b"When,What,How much\n01/06/2025,Shop,1.00\n")
    assert message == f"unknown bank CSV layout: no header row recognised. Supported layouts: {supported_layouts()}"
    for bank in ("Barclays", "Lloyds", "NatWest", "Nationwide", "Santander", "Monzo", "Starling", "HSBC", "prepaid card"):
        assert bank in message


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("empty.csv", b"", "the file is empty"),
        ("blank.csv", b"\n\n  \n", "the file is empty"),
        ("scan.pdf", b"%PDF-1.4", "'.pdf' is not a statement format: use .ofx, .qfx or .csv"),
        ("binary.csv", b"\x00\x01\x02Date", "binary content (NUL bytes): not a text export"),
        ("usd.ofx", b"<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>USD<BANKACCTFROM><ACCTID>1</BANKACCTFROM>"
                    b"<BANKTRANLIST></BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>",
         "statement currency is USD: direct-payment accounts are in GBP"),
        ("signon.ofx", b"OFXHEADER:100\nDATA:OFXSGML\n\n<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</STATUS></SONRS></SIGNONMSGSRSV1></OFX>",
         "the OFX file holds no bank or card statement (no STMTRS/CCSTMTRS)"),
        ("notofx.ofx", b"hello", "no <OFX> element: not an OFX file"),
    ],
)
def test_whole_file_reasons(tmp_path, name, data, message):
    assert statement_error(tmp_path, name, data) == message


def test_bad_rows_are_rejected_with_line_column_and_value(tmp_path):
    data = (b"Date,Description,Amount,Balance\n01/06/2025,Shop,-1.00,9.00\n31/13/2025,Shop,-1.00,8.00\n"
            b"02/06/2025,Shop,lots,7.00\n03/06/2025,Shop,-1.00\n04/06/2025,Shop,-1.00,6.00,extra\n")
    read = read_statement(tmp_path / "s.csv", data, "statements/R1/s.csv", "R1")
    assert read.lines.height == 1
    assert read.rejections.select("source_line", "column", "value", "reason").rows() == [
        (3, "date", "31/13/2025", "column 'date': '31/13/2025' is not a date"),
        (4, "amount", "lots", "column 'amount': 'lots' is not an amount"),
        (5, "", "03/06/2025,Shop,-1.00", "row has 3 fields but the header has 4"),
        (6, "", "04/06/2025,Shop,-1.00,6.00,extra", "row has 5 fields but the header has 4"),
    ]
    assert read.rows_read == 5


def test_a_debit_and_credit_both_filled_or_both_blank_or_a_balance_unreadable_is_rejected(tmp_path):
    header = b"Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,Debit Amount,Credit Amount,Balance,\n"
    rows = [b"04/06/2025,DEB,'30-96-34,12345678,OK,1.00,,96.00", b"03/06/2025,DEB,'30-96-34,12345678,BOTH,10.00,5.00,97.00",
            b"02/06/2025,DEB,'30-96-34,12345678,NEITHER,,,102.00", b"01/06/2025,DEB,'30-96-34,12345678,BALANCE,1.00,,lots"]
    read = read_statement(tmp_path / "s.csv", header + b"\n".join(rows) + b"\n", "statements/R1/s.csv", "R1")
    assert read.lines["description"].to_list() == ["OK"]
    assert read.rejections.select("source_line", "column").rows() == [
        (3, "amount"), (4, "amount"), (5, "balance")]


def test_missing_required_column_is_named(tmp_path):
    from pipeline.ingest.records import RECEIPTS, read_table

    data = b"receipt_id,date,supplier\nA1,2025-06-01,Shop\n"
    with pytest.raises(UnreadableFile) as raised:
        read_table(RECEIPTS, tmp_path / "r.csv", data, "receipts/R1/r.csv", "R1")
    assert str(raised.value) == "cannot find column 'gross' in column names: 'receipt_id', 'date', 'supplier'"


def test_a_column_read_twice_is_refused_and_dpmons_own_names_are_just_columns(tmp_path):
    from pipeline.ingest.records import RECEIPTS, read_table

    twice = b"receipt_id,date,supplier,gross,Gross\nA1,2025-06-01,Shop,1.00,100.00\n"
    with pytest.raises(UnreadableFile, match="^column 'gross' appears more than once in the header: keep one$"):
        read_table(RECEIPTS, tmp_path / "r.csv", twice, "receipts/R1/r.csv", "R1")
    ours = b"receipt_id,date,supplier,gross,__row,source_line,source_file,__folder_recipient\nA1,2025-06-01,Shop,1.00,x,y,z,R9\n"
    read = read_table(RECEIPTS, tmp_path / "r.csv", ours, "receipts/R1/r.csv", "R1")
    assert read.frame.select("receipt_id", "recipient_id", "source_file", "source_line").rows() == [
        ("A1", "R1", "receipts/R1/r.csv", 2)]


def test_a_table_too_wide_to_be_an_export_is_refused_at_its_line(tmp_path):
    """100,000 columns took minutes (names were matched pairwise) and ten million took gigabytes."""
    from pipeline.ingest.records import RECEIPTS, read_table

    wide = ("receipt_id,date,supplier,gross," + ",".join(f"c{i}" for i in range(100_000)) + "\n").encode()
    with pytest.raises(UnreadableFile, match="^line 1 has 100,004 fields: dpmon reads tables of at most 1,000 columns$"):
        read_table(RECEIPTS, tmp_path / "r.csv", wide, "receipts/R1/r.csv", "R1")
    names = ",".join(f"c{i}" for i in range(996))
    read = read_table(RECEIPTS, tmp_path / "r.csv", f"receipt_id,date,supplier,gross,{names}\nA1,2025-06-01,Shop,1.00{',' * 996}\n".encode(),
                      "receipts/R1/r.csv", "R1")
    assert read.frame["receipt_id"].to_list() == ["A1"]


def test_a_workbook_too_wide_to_be_an_export_is_refused(tmp_path):
    import io

    from openpyxl import Workbook

    from pipeline.ingest.records import RECEIPTS, read_table

    book = Workbook()
    book.active.append(["receipt_id", "date", "supplier", "gross", *(f"c{i}" for i in range(1_000))])
    data = io.BytesIO()
    book.save(data)
    with pytest.raises(UnreadableFile, match="^the header has 1,004 fields: dpmon reads tables of at most 1,000 columns$"):
        read_table(RECEIPTS, tmp_path / "r.xlsx", data.getvalue(), "receipts/R1/r.xlsx", "R1")


def test_a_message_naming_a_headers_columns_names_the_first_forty(tmp_path):
    from pipeline.ingest.records import RECEIPTS, read_table

    header = ",".join(f"c{i}" for i in range(50))
    with pytest.raises(UnreadableFile) as raised:
        read_table(RECEIPTS, tmp_path / "r.csv", f"{header}\n".encode(), "receipts/R1/r.csv", "R1")
    assert str(raised.value).endswith("'c38', 'c39' and 10 more")


def test_a_row_with_a_line_break_in_a_quoted_cell_is_cited_at_its_first_line(tmp_path):
    """Where an auditor opening the file finds the row begin, not where its last cell ends."""
    from pipeline.ingest.records import RECEIPTS, read_table

    data = b'receipt_id,date,supplier,gross\nA1,2025-06-01,"Corner\nShop\nLtd",lots\nA2,2025-06-02,Shop,1.00\n'
    read = read_table(RECEIPTS, tmp_path / "r.csv", data, "receipts/R1/r.csv", "R1")
    assert read.rejections.select("source_line", "column").rows() == [(2, "gross")]
    assert read.frame.select("receipt_id", "source_line").rows() == [("A2", 5)]


def test_receipt_cells_are_typed_with_reasons(tmp_path):
    from pipeline.ingest.records import RECEIPTS, read_table

    data = (b" Receipt_ID ,DATE,Supplier,Gross,Payment_Method\nA1,2025-06-01,Shop,\"\xc2\xa31,234.50\",card\n"
            b"A2,06/31/2025,Shop,3.00,card\nA3,2025-06-02,Shop,3.00,cheque\nA4,2025-06-02,,3.00,cash\n"
            b"A5,02/06/2025,Shop,4.00,card\n")
    table = read_table(RECEIPTS, tmp_path / "r.csv", data, "receipts/R1/r.csv", "R1")
    assert table.frame.select("gross_pence", "date").rows() == [(123450, date(2025, 6, 1)), (400, date(2025, 6, 2))]
    assert table.rejections.select("source_line", "column", "reason").rows() == [
        (3, "date", "column 'date': '06/31/2025' is not a date as YYYY-MM-DD or DD/MM/YYYY"),
        (4, "payment_method", "column 'payment_method': 'cheque' is not one of bank, card, cash, direct_debit"),
        (5, "supplier", "column 'supplier': required value is blank"),
    ]


def test_payslip_dates_may_be_day_first(tmp_path):
    from pipeline.ingest.records import PAYSLIPS, read_table

    data = (b"employee_id,pay_date,period_start,period_end,gross_pay,net_pay\n"
            b"E1,27/06/2025,01/06/2025,2025-06-30,100.00,90.00\nE1,2025-13-01,,,100.00,90.00\n")
    table = read_table(PAYSLIPS, tmp_path / "p.csv", data, "payroll/R1/p.csv", "R1")
    assert table.frame.select("pay_date", "period_start", "period_end").rows() == [
        (date(2025, 6, 27), date(2025, 6, 1), date(2025, 6, 30))]
    assert table.rejections.select("source_line", "reason").rows() == [
        (3, "column 'pay_date': '2025-13-01' is not a date as YYYY-MM-DD or DD/MM/YYYY")]


def test_council_tables_saved_again_by_excel_are_read(tmp_path):
    """Excel in a UK office writes ISO dates back as DD/MM/YYYY; a workbook's date-and-time cell is its day."""
    from pipeline.ingest.records import AGREEMENTS as AGREEMENTS_KIND
    from pipeline.ingest.records import LA_PAYMENTS, read_table

    agreements = (AGREEMENTS + "R1,A,direct,01/04/2025,100.00,monthly,2025-04-01\n").encode()
    table = read_table(AGREEMENTS_KIND, tmp_path / "a.csv", agreements, "agreements.csv", None)
    assert table.frame.select("start_date", "first_payment_date").rows() == [(date(2025, 4, 1), date(2025, 4, 1))]
    from datetime import datetime

    from openpyxl import Workbook

    book = Workbook()
    for row in (["recipient_id", "payment_date", "amount", "reference"], ["R1", datetime(2025, 6, 1, 9, 30), 100, "P1"],
                ["R1", date(2025, 6, 2), 5, "P2"]):
        book.active.append(row)
    path = tmp_path / "la_payments.xlsx"
    book.save(path)
    table = read_table(LA_PAYMENTS, path, path.read_bytes(), "la_payments.xlsx", None)
    assert table.frame["payment_date"].to_list() == [date(2025, 6, 1), date(2025, 6, 2)] and table.rejections.height == 0


def test_a_time_alone_in_a_workbooks_date_column_is_rejected_not_read_as_1899(tmp_path):
    """Excel keeps "12:00" typed in a date cell as a time of 31 December 1899 (a red team found the row used, dated so)."""
    from datetime import datetime, time

    from openpyxl import Workbook

    from pipeline.ingest.records import RECEIPTS, read_table

    book = Workbook()
    for row in (["receipt_id", "date", "supplier", "gross"], ["A", time(12, 0), "Shop", 12.5], ["B", datetime(2025, 6, 3, 12), "Shop", 2],
                ["C", time(9, 30, 15, 250000), "Shop", 1]):
        book.active.append(row)
    path = tmp_path / "r.xlsx"
    book.save(path)
    table = read_table(RECEIPTS, path, path.read_bytes(), "receipts/R1/r.xlsx", "R1")
    assert table.frame.select("receipt_id", "date").rows() == [("B", date(2025, 6, 3))]
    assert table.rejections.select("source_line", "column", "value").rows() == [(2, "date", "12:00:00"), (4, "date", "09:30:15.250")]


def test_a_council_batch_without_a_usable_agreement_is_refused_whole(tmp_path):
    """What the flow checks before taking the period's lock (the CLI does the same before Prefect starts)."""
    from pipeline.ingest.load import require_agreements

    inbound = make_inbound(tmp_path)
    council = [item for item in discover(inbound).files if item.recipient_id is None]
    require_agreements(read_files(council))  # one good agreement: nothing to say
    (inbound / "agreements.csv").write_text(AGREEMENTS + "R1,A,direct,2025-01-01,lots,monthly,2025-01-01\n")
    with pytest.raises(InboundUnusable, match=r"^agreements.csv holds no usable agreement: every row was rejected \(line 2: "
                                              r"column 'payment_amount': 'lots' is not money"):
        require_agreements(read_files(council))
    header = AGREEMENTS.rstrip("\n") + ",account_number\n"
    (inbound / "agreements.csv").write_text(header + "R1,A,direct,2025-01-01,100.00,monthly,2025-01-01,12345678x\n")
    with pytest.raises(InboundUnusable) as raised:  # the refusal quotes the cell with its account number masked
        require_agreements(read_files(council))
    assert "12345678" not in str(raised.value) and "'****5678x' is not an 8-digit account number" in str(raised.value)
    (inbound / "agreements.csv").write_bytes(b"\x00\x01binary")
    with pytest.raises(InboundUnusable, match=r"^agreements.csv cannot be used: "):
        require_agreements(read_files(council))


def test_header_names_with_spaces_for_underscores_are_the_contracts(tmp_path):
    from pipeline.ingest.records import RECEIPTS, read_table

    data = b"Receipt ID,Date,Supplier,Supplier VAT Number,Gross,Payment-Method\nA1,2025-06-01,Shop,GB 123 4567 89,3.00,Cash\n"
    table = read_table(RECEIPTS, tmp_path / "r.csv", data, "receipts/R1/r.csv", "R1")
    assert table.frame.select("receipt_id", "supplier_vat_number", "payment_method").rows() == [("A1", "GB 123 4567 89", "cash")]
    both = b"receipt_id,Receipt ID,date,supplier,gross\nA1,B1,2025-06-01,Shop,3.00\n"  # the contract's own name is read
    assert read_table(RECEIPTS, tmp_path / "r.csv", both, "receipts/R1/r.csv", "R1").frame["receipt_id"].to_list() == ["A1"]


def test_account_numbers_short_of_leading_zeros_are_padded(tmp_path):
    from pipeline.ingest.records import AGREEMENTS as AGREEMENTS_KIND
    from pipeline.ingest.records import read_table

    header = AGREEMENTS.rstrip("\n") + ",account_number\n"
    rows = "".join(f"R{i},A,direct,2025-01-01,100.00,monthly,2025-01-01,{number}\n"
                   for i, number in enumerate(["9745048", "12-34-56", "30 96 34 23", "12345", "123456789"]))
    table = read_table(AGREEMENTS_KIND, tmp_path / "a.csv", (header + rows).encode(), "agreements.csv", None)
    assert table.frame["account_number"].to_list() == ["09745048", "00123456", "30963423"]
    assert table.rejections.select("source_line", "reason").rows() == [
        (5, "column 'account_number': '12345' is not an 8-digit account number"),
        (6, "column 'account_number': '123456789' is not an 8-digit account number")]


def test_a_row_pasted_twice_is_counted_once(tmp_path):
    from pipeline.ingest.load import reject_repeated_rows
    from pipeline.ingest.records import AGREEMENTS as AGREEMENTS_KIND
    from pipeline.ingest.records import read_table

    row = "R1,A,direct,2025-01-01,100.00,monthly,2025-01-01\n"
    renewed = "R1,A,direct,2025-01-01,120.00,monthly,2025-01-01\n"  # differs in one cell: a second agreement
    table = read_table(AGREEMENTS_KIND, tmp_path / "a.csv", (AGREEMENTS + row + renewed + row + row).encode(), "agreements.csv", None)
    kept, rejected = reject_repeated_rows(table.frame, "agreement")
    assert kept.select("source_line", "payment_amount_pence").rows() == [(2, 10000), (3, 12000)]
    assert rejected.select("recipient_id", "source_line", "reason").rows() == [
        ("R1", 4, "repeats line 2 in every column: the same agreement twice is counted once"),
        ("R1", 5, "repeats line 2 in every column: the same agreement twice is counted once")]


def test_a_dash_or_n_a_in_an_optional_cell_is_nothing(tmp_path):
    from pipeline.ingest.records import PAYSLIPS, RECEIPTS, read_table

    receipts = b"receipt_id,date,supplier,net,vat,gross\nA1,2025-06-01,Shop, -   ,N/A,3.00\nA2,2025-06-01,Shop,1.00,2.00,-\n"
    table = read_table(RECEIPTS, tmp_path / "r.csv", receipts, "receipts/R1/r.csv", "R1")
    assert table.frame.select("receipt_id", "net_pence", "vat_pence", "gross_pence").rows() == [("A1", None, None, 300)]
    assert table.rejections.select("source_line", "reason").rows() == [(3, "column 'gross': '-' is not money in pounds, like "
                                                                         "1234.50, \"£1,234.50\" or (12.00)")]
    payslips = b"employee_id,pay_date,gross_pay,employee_pension,employer_pension,net_pay\nE1,2025-06-27,100.00,\u2013,n/a,90.00\n"
    table = read_table(PAYSLIPS, tmp_path / "p.csv", payslips.decode("unicode_escape").encode(), "payroll/R1/p.csv", "R1")
    assert table.frame.select("employee_pension_pence", "employer_pension_pence", "net_pay_pence").rows() == [(0, 0, 9000)]


def test_a_title_above_the_header_is_passed_over_and_a_row_there_is_not(tmp_path):
    from openpyxl import Workbook

    from pipeline.ingest.records import EMPLOYEES, read_table

    book = Workbook()
    for row in (["Employees register, June 2025"], [], ["Recipient ID", "Employee ID", "DBS level"], ["R1", "E1", "enhanced"]):
        book.active.append(row)
    path = tmp_path / "employees.xlsx"
    book.save(path)
    table = read_table(EMPLOYEES, path, path.read_bytes(), "employees.xlsx", None)
    assert table.frame.select("recipient_id", "employee_id", "dbs_level").rows() == [("R1", "E1", "enhanced")]
    assert table.rejections.height == 0
    data = b"R0,E0,enhanced\nrecipient_id,employee_id,dbs_level\nR1,E1,basic\n"  # a row above the header is no title
    table = read_table(EMPLOYEES, tmp_path / "e.csv", data, "employees.csv", None)
    assert table.frame["employee_id"].to_list() == ["E1"] and table.rows_read == 2
    assert table.rejections.select("source_line", "reason").rows() == [(1, "row above the header row (line 2): not read")]


def test_a_recipient_id_in_another_case_is_the_agreements_recipient(tmp_path):
    """A folder "r1" and a council row "r1" belong to agreement R1; an id no agreement has in any case is refused."""
    import polars as pl

    from pipeline.ingest.load import reject_unknown_recipients, spelled_as_agreed

    inbound = make_inbound(tmp_path)
    (inbound / "statements" / "r1").mkdir()
    (inbound / "statements" / "r1" / "s.csv").write_text("x")
    (inbound / "statements" / "R9").mkdir()
    (inbound / "statements" / "R9" / "s.csv").write_text("x")
    kept, refused = split_known([item for item in discover(inbound).files if item.recipient_id], {"R1"})
    assert [(item.source_file, item.recipient_id) for item in kept] == [("statements/r1/s.csv", "R1")]
    assert [item.source_file for item in refused] == ["statements/R9"]
    payments = pl.DataFrame({"recipient_id": ["r1", "R1", "Rx"], "source_file": ["la_payments.csv"] * 3, "source_line": [2, 3, 4]})
    known, bad = reject_unknown_recipients(spelled_as_agreed(payments, {"R1"}), {"R1"}, "council payment")
    assert known["recipient_id"].to_list() == ["R1", "R1"]
    assert bad.select("value", "reason").rows() == [("Rx", "column 'recipient_id': 'Rx' has no agreement, so this council payment row cannot be checked")]


def test_payment_methods_in_everyday_words(tmp_path):
    from pipeline.ingest.records import RECEIPTS, read_table

    words = ["Debit Card", "bank transfer", "Direct Debit", "direct-debit", "BACS", "Cash", "cheque"]
    data = "receipt_id,date,supplier,gross,payment_method\n" + "".join(f"A{i},2025-06-01,Shop,1.00,{w}\n" for i, w in enumerate(words))
    table = read_table(RECEIPTS, tmp_path / "r.csv", data.encode(), "receipts/R1/r.csv", "R1")
    assert table.frame["payment_method"].to_list() == ["card", "bank", "direct_debit", "direct_debit", "bank", "cash"]
    assert table.rejections.select("source_line", "reason").rows() == [
        (8, "column 'payment_method': 'cheque' is not one of bank, card, cash, direct_debit")]


def make_inbound(tmp_path: Path) -> Path:
    inbound = tmp_path / "inbound"
    (inbound / "statements" / "R1").mkdir(parents=True)
    (inbound / "agreements.csv").write_text(AGREEMENTS + "R1,A,direct,2025-01-01,100.00,monthly,2025-01-01\n")
    return inbound


def test_discovery_refuses_what_it_must_not_read(tmp_path):
    inbound = make_inbound(tmp_path)
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "x.csv").write_text("Date,Description,Amount\n")
    os.symlink(outside, inbound / "statements" / "R2")
    os.symlink(outside / "x.csv", inbound / "statements" / "R1" / "link.csv")
    (inbound / "statements" / "bad name!").mkdir()
    (inbound / "statements" / "loose.csv").write_text("x")
    (inbound / "statements" / "R1" / "nested").mkdir()
    (inbound / "statements" / "R9").mkdir()
    (inbound / "statements" / "R9" / "s.csv").write_text("x")
    (inbound / "notes.txt").write_text("hello")
    (inbound / ".DS_Store").write_text("")
    for litter in ("desktop.ini", "Thumbs.db", "~$agreements.xlsx", ".~lock.agreements.csv#"):  # the OS's and Office's
        (inbound / litter).write_text("x")
        (inbound / "statements" / "R1" / litter).write_text("x")
    os.symlink("loop", inbound / "statements" / "R1" / "loop")
    os.symlink("loop", inbound / "loop")
    os.symlink(inbound / "statements" / "R1" / "gone.csv", inbound / "statements" / "R1" / "dangling.csv")
    os.mkfifo(inbound / "statements" / "R1" / "pipe.csv")
    (inbound / "statements" / "R1" / os.fsdecode(b"caf\xe9.csv")).write_text("x")  # a Latin-1 name
    (inbound / os.fsdecode(b"notes\xff.txt")).write_text("x")
    discovery = discover(inbound)
    refused = {item.source_file: item.reason for item in discovery.refused}
    assert refused == {
        "la_payments.csv": "required file la_payments.csv (or .xlsx) is missing: nothing of it could be checked",
        "provision.csv": "required file provision.csv (or .xlsx) is missing: nothing of it could be checked",
        "notes.txt": "not an inbound file dpmon reads (expected agreements, provision, la_payments, employees as "
                     ".csv/.xlsx, policy.toml, statements/, receipts/, payroll/)",
        "loop": "link that leads back to itself (a loop): not followed",
        "notes\\xff.txt": "name is not UTF-8 text (shown here with each bad byte as \\xNN): rename it to be read",
        "statements/R1/caf\\xe9.csv": "name is not UTF-8 text (shown here with each bad byte as \\xNN): rename it to be read",
        "statements/R1/dangling.csv": "link to nothing (its target does not exist): not followed",
        "statements/R1/link.csv": "link pointing outside inbound/: not followed",
        "statements/R1/loop": "link that leads back to itself (a loop): not followed",
        "statements/R1/pipe.csv": "not a regular file (a pipe, socket or device): not read",
        "statements/R1/nested": "nested folder: only files directly in the recipient's folder are read",
        "statements/R2": "link pointing outside inbound/: not followed",
        "statements/bad name!": "folder name is not a valid recipient id (1-64 letters, digits, '_' or '-'): not read",
        "statements/loose.csv": "file directly in statements/: put it in statements/<recipient_id>/",
    }
    kept, unknown = split_known([item for item in discovery.files if item.recipient_id], {"R1"})
    assert kept == []
    assert [(item.source_file, item.reason) for item in unknown] == [
        ("statements/R9", "'R9' is not a recipient in agreements: folder not read")
    ]


def test_an_empty_folder_of_no_known_recipient_is_rejected_too(tmp_path):
    """An acceptance test: the contract rejects a folder whose name is not a known recipient; an empty one (or one
    holding only .DS_Store) was refused only through its files, so it left no trace. A known recipient's empty
    folder, and one named in another case, are not refused."""
    inbound = make_inbound(tmp_path)
    for folder in ("statements/EMPTYX", "receipts/EMPTYY", "statements/UNK8", "payroll/r1"):
        (inbound / folder).mkdir(parents=True)
    (inbound / "statements" / "UNK8" / ".DS_Store").write_text("")
    discovery = discover(inbound)
    kept, unknown = split_known([item for item in discovery.files if item.recipient_id], {"R1"}, folders=discovery.folders)
    assert sorted((item.source_file, item.reason, item.recipient_id) for item in unknown) == [
        ("receipts/EMPTYY", "'EMPTYY' is not a recipient in agreements: folder not read", "EMPTYY"),
        ("statements/EMPTYX", "'EMPTYX' is not a recipient in agreements: folder not read", "EMPTYX"),
        ("statements/UNK8", "'UNK8' is not a recipient in agreements: folder not read", "UNK8"),
    ]


def test_unusable_inbound(tmp_path):
    with pytest.raises(InboundUnusable, match="does not exist or is not a folder"):
        discover(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InboundUnusable, match="has no agreements.csv or agreements.xlsx"):
        discover(tmp_path / "empty")


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_text_with_its_byte_order_mark_is_read(tmp_path, codec):
    from pipeline.ingest.records import RECEIPTS, read_table

    text = "receipt_id,date,supplier,gross\nA1,2025-06-01,Café £,1.00\n"
    data = text.encode(codec) if codec == "utf-16" else "\ufeff".encode(codec) + text.encode(codec)
    assert read_table(RECEIPTS, tmp_path / "r.csv", data, "r.csv", "R1").frame["supplier"].to_list() == ["Café £"]


def test_a_pipe_put_in_place_of_a_listed_file_is_not_waited_on(tmp_path):
    inbound = make_inbound(tmp_path)
    (inbound / "statements" / "R1" / "s.csv").write_text("Date,Description,Amount\n")
    files = [item for item in discover(inbound).files if item.recipient_id]
    os.remove(files[0].path)
    os.mkfifo(files[0].path)  # no writer: a blocking open would never return
    batch = read_files(files)
    assert batch.files[0].rejected_reason == "not a regular file (a pipe, socket or device): not read"


def test_oversized_file_is_not_read(tmp_path):
    inbound = make_inbound(tmp_path)
    (inbound / "statements" / "R1" / "big.csv").write_bytes(b"Date,Description,Amount\n" + b"01/06/2025,x,1.00\n" * 100)
    files = [item for item in discover(inbound).files if item.recipient_id]
    batch = read_files(files, max_bytes=1000)
    assert batch.files[0].rejected_reason == "file is 1,824 bytes, over the 1,000-byte limit: not read"


@pytest.mark.parametrize(("text", "expected"), [("01/06/25", date(2025, 6, 1)), ("1/6/25", date(2025, 6, 1)),
                                              ("05/01/26", date(2026, 1, 5)), ("01-06-25", None),
                                              ("05.06.2025", date(2025, 6, 5)), ("05-Jun-2025", date(2025, 6, 5)),
                                              ("5 June 2025", date(2025, 6, 5)), ("05-06-2025", date(2025, 6, 5))])
def test_bank_date_shapes(text, expected):
    """Each shape UK banks export; a two-digit year is of this century; a dashed short date is no bank's
    export shape, and is rejected rather than guessed at."""
    import polars as pl

    from pipeline.ingest.columns import BANK_DATES, parse_date

    assert pl.DataFrame({"d": [text]}).select(parse_date(pl.col("d"), BANK_DATES).alias("d"))["d"][0] == expected


def test_newest_first_export_of_a_single_day_is_put_in_order(tmp_path):
    data = (b"Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,Debit Amount,Credit Amount,Balance,\n"
            b"10/06/2025,DEB,'30-96-34,12345678,SECOND,30.00,,70.00\n10/06/2025,DEB,'30-96-34,12345678,FIRST,20.00,,100.00\n")
    lines = read_statement(tmp_path / "s.csv", data, "s.csv", "R1").lines.sort("seq")
    assert lines["description"].to_list() == ["FIRST", "SECOND"]


def test_a_repeated_fitid_keeps_both_transactions(tmp_path):
    ofx = (b"<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>GBP<BANKACCTFROM><ACCTID>12345678</BANKACCTFROM><BANKTRANLIST>"
           b"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20250601<TRNAMT>-40.00<FITID>0<NAME>A</STMTTRN>"
           b"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20250602<TRNAMT>-25.00<FITID>0<NAME>B</STMTTRN>"
           b"</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>")
    lines = read_statement(tmp_path / "s.ofx", ofx, "s.ofx", "R1").lines
    assert lines["txn_key"].n_unique() == 2


OFX_HEAD = (b"OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>GBP\n"
            b"<BANKACCTFROM><ACCTID>12345678</BANKACCTFROM><BANKTRANLIST>\n")


def _stmttrn(day: int, amount: str, fitid: str | None = None) -> bytes:
    fitid_tag = f"<FITID>{fitid}" if fitid else ""
    return f"<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>202505{day:02d}<TRNAMT>{amount}{fitid_tag}<NAME>Payer {day}</STMTTRN>".encode()


def test_an_ofx_cut_short_has_every_transaction_accounted_for(tmp_path):
    whole = OFX_HEAD + b"\n".join(_stmttrn(day, "10.00", f"F{day}") for day in (1, 2, 3)) + b"\n</BANKTRANLIST></STMTRS>"
    cut = whole[:whole.rindex(b"<TRNAMT>")]  # inside the third transaction
    read = read_statement(tmp_path / "s.ofx", cut, "s.ofx", "R1")
    assert read.rows_read == 3
    assert read.lines.height + read.rejections.height == 3
    assert read.rejections["source_line"].to_list()[-1] == 9  # the third <STMTTRN>'s line
    assert read.rejections["reason"].to_list()[-1] == "transaction not readable: the file is cut short or the <STMTTRN> is malformed"


def test_an_ofx_transaction_without_fitid_is_rejected_at_its_line(tmp_path):
    data = OFX_HEAD + b"\n".join([_stmttrn(1, "10.00", "F1"), _stmttrn(2, "20.00"), _stmttrn(3, "30.00", "F3")]) + (
        b"\n</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>")
    read = read_statement(tmp_path / "s.ofx", data, "s.ofx", "R1")
    assert read.lines["amount_pence"].to_list() == [1000, 3000]
    assert read.rejections.select("source_line", "column").rows() == [(8, "STMTTRN")]  # the second <STMTTRN>'s line


def test_the_manifest_counts_rejected_rows_that_share_a_line(tmp_path):
    """A whole OFX statement on one line: two of its four transactions rejected, two used."""
    from pipeline.report.write import file_entries

    inbound = make_inbound(tmp_path)
    body = b"".join([_stmttrn(1, "10.00", "F1"), _stmttrn(2, "20.001", "F2"), _stmttrn(3, "30.00"), _stmttrn(4, "40.00", "F4")])
    (inbound / "statements" / "R1" / "one_line.ofx").write_bytes(OFX_HEAD + body + b"</BANKTRANLIST></STMTRS>")
    outcome = _shard(inbound)
    [entry] = file_entries(outcome.files, outcome.rows_used)
    assert (entry["rows_read"], entry["rows_used"], entry["rows_rejected"]) == (4, 2, 2)
    assert outcome.rejections.select("source_line", "column").sort("column").rows() == [(7, "STMTTRN"), (7, "TRNAMT")]


def _shard(inbound: Path):
    from pipeline.period import Period
    from pipeline.policy import load_policy
    from pipeline.ingest.plans import UNREAD_PLANS
    from pipeline.shard import council_part, reconcile_shard
    from pipeline.validate import COUNCIL_FRAMES, Validator

    discovery = discover(inbound)
    council = read_files([item for item in discovery.files if item.recipient_id is None])
    frames = {name: council.frame(name) for name in COUNCIL_FRAMES} | {"unread_plans": schemas.empty(UNREAD_PLANS)}
    return reconcile_shard([item for item in discovery.files if item.recipient_id], council_part(frames, ["R1"]),
                           Validator(), load_policy(None), Period.parse("2025-06"))


def test_a_payslip_in_two_payroll_files_is_counted_once(tmp_path):
    """A bureau's year-to-date export beside its monthly file (a red team): June's liabilities were committed
    twice, and the payslip waited for a second net pay, flagged PAYROLL_UNMATCHED."""
    from pipeline.report.write import file_entries

    inbound = make_inbound(tmp_path)
    (inbound / "payroll" / "R1").mkdir(parents=True)
    header = "employee_id,employee_name,pay_date,gross_pay,tax,employee_ni,employer_ni,employee_pension,employer_pension,net_pay\n"
    may, june = "E1,Pat,2025-05-27,1200.00,100.00,40.00,0,30.00,25.00,1030.00\n", "E1,Pat,2025-06-27,1200.00,100.00,40.00,0,30.00,25.00,1030.00\n"
    (inbound / "payroll" / "R1" / "payslips.csv").write_text(header + may + june)
    # the month's file spells the employee "e1" (a review found the copy kept, so spelled)
    (inbound / "payroll" / "R1" / "payslip_2025-06.csv").write_text(header + june.replace("E1", "e1") + june.replace("E1,Pat", "E2,Sam"))
    (inbound / "statements" / "R1" / "s.csv").write_text(
        "Date,Description,Amount,Balance\n2025-06-01,COUNCIL,100.00,3100.00\n2025-06-27,PAT WAGES,-1030.00,2070.00\n"
        "2025-06-28,SAM WAGES,-1030.00,1040.00\n")
    outcome = _shard(inbound)
    assert outcome.rejections.select("source_file", "source_line", "reason").rows() == [
        ("payroll/R1/payslips.csv", 3,
         "repeats payroll/R1/payslip_2025-06.csv line 2 in every column: the same payslip twice is counted once")]
    assert outcome.outcome.findings.filter(pl.col("rule") == "PAYROLL_UNMATCHED").height == 0
    # committed: the liabilities of June's two payslips (E1's once, E2's), not three
    assert outcome.outcome.clawback["committed_pence"].to_list() == [2 * (10000 + 4000 + 3000 + 2500)]
    entries = {entry["source_file"]: (entry["rows_read"], entry["rows_used"], entry["rows_rejected"])
               for entry in file_entries(outcome.files, outcome.rows_used)}
    assert entries["payroll/R1/payslips.csv"] == (2, 1, 1) and entries["payroll/R1/payslip_2025-06.csv"] == (2, 2, 0)


def _ofx(*statements: bytes) -> bytes:
    """An OFX file of statements of account 12345678, each given as its transactions."""
    return b"".join([b"OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\n\n<OFX><BANKMSGSRSV1>\n",
                     *(b"<STMTTRNRS><STMTRS><CURDEF>GBP<BANKACCTFROM><ACCTID>12345678</BANKACCTFROM><BANKTRANLIST>\n" + body
                       + b"</BANKTRANLIST></STMTRS></STMTTRNRS>\n" for body in statements),
                     b"</BANKMSGSRSV1></OFX>\n"])


def _line(posted: str, amount: str, fitid: str, name: str = "SHOP") -> bytes:
    return f"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>{posted}<TRNAMT>{amount}<FITID>{fitid}<NAME>{name}</STMTTRN>\n".encode()


@pytest.mark.parametrize("fast", [True, False], ids=["scan", "ofxparse"])
def test_an_ofx_date_is_the_day_the_bank_wrote_whatever_its_time_zone(fast):
    """ofxparse turns 00:00 BST on 1 June into 23:00 UTC on 31 May: the line would leave its month."""
    from pipeline.ingest.ofx import parse_ofx

    read = parse_ofx(_ofx(_line("20250601000000[+1:BST]", "-60.00", "A") + _line("20250630233000[-5:EST]", "-5.00", "B")),
                     "s.ofx", "R1", fast=fast)
    assert [row["date"] for row in read.lines] == [date(2025, 6, 1), date(2025, 6, 30)]


@pytest.mark.parametrize("fast", [True, False], ids=["scan", "ofxparse"])
def test_an_ofx_date_out_of_the_calendar_rejects_its_line_not_the_file(fast):
    """The last day there is, with a zone behind UTC, overflowed ofxparse's conversion and failed the file;
    a month 13 is a date no calendar holds."""
    from pipeline.ingest.ofx import parse_ofx

    read = parse_ofx(_ofx(_line("20250602", "-1.00", "A") + _line("99991231235959[-12:X]", "-2.00", "B")
                          + _line("20251301", "-3.00", "C")), "s.ofx", "R1", fast=fast)
    assert [(row["date"], row["amount_pence"]) for row in read.lines] == [(date(2025, 6, 2), -100), (date(9999, 12, 31), -200)]
    assert [(row["source_line"], row["column"]) for row in read.rejections] == [(9, "STMTTRN")]
    assert read.rows_read == 3


def test_fitids_numbered_afresh_in_each_statement_name_different_transactions(tmp_path):
    """Ids 1, 2 in May's statement and again in June's: June's lines are June's, not repeats of May's."""
    from pipeline.ingest.statements import StatementBatch, assemble, read_raw
    from pipeline.reconcile.ledger import deduplicate

    batch = StatementBatch()
    for month, amounts in (("05", ("-10.00", "-20.00")), ("06", ("-30.00", "-40.00"))):
        body = b"".join(_line(f"2025{month}{day:02d}", amount, str(day)) for day, amount in enumerate(amounts, 1))
        batch.add(read_raw(tmp_path / f"{month}.ofx", _ofx(body), f"{month}.ofx", "R1"))
    lines, statements, _ = assemble(batch)
    ledger = deduplicate(lines, statements)
    assert ledger.filter("kept")["amount_pence"].sort().to_list() == [-4000, -3000, -2000, -1000]


def test_the_same_transactions_in_two_overlapping_statements_are_one(tmp_path):
    from pipeline.ingest.statements import StatementBatch, assemble, read_raw
    from pipeline.reconcile.ledger import deduplicate

    batch = StatementBatch()
    first = _line("20250528", "-10.00", "X1") + _line("20250602", "-20.00", "X2")
    second = _line("20250602", "-20.00", "X2") + _line("20250610", "-30.00", "X3")
    for name, body in (("a.ofx", first), ("b.ofx", second)):
        batch.add(read_raw(tmp_path / name, _ofx(body), name, "R1"))
    ledger = deduplicate(*assemble(batch)[:2])
    assert ledger.filter("kept")["amount_pence"].sort().to_list() == [-3000, -2000, -1000]
    assert ledger.filter(~pl.col("kept"))["duplicate_of"].to_list() == ["a.ofx:8"]  # X2, the second line of a.ofx


def test_two_statements_of_one_account_in_one_file_give_each_line_once(tmp_path):
    """May's and June's statements sent in one file: every line read once, at its own line."""
    from pipeline.reconcile.ledger import deduplicate

    may = _line("20250510", "-10.00", "M1") + _line("20250520", "-20.00", "M2")
    june = _line("20250610", "-30.00", "J1")
    read = read_statement(tmp_path / "s.ofx", _ofx(may, june), "s.ofx", "R1")
    assert read.statements.height == 2
    assert read.lines.sort("source_line")["source_line"].to_list() == [7, 8, 11]
    ledger = deduplicate(read.lines, read.statements)
    assert ledger.height == 3 and ledger["kept"].all()


def test_a_fitid_repeated_in_a_file_takes_each_of_its_lines(tmp_path):
    read = read_statement(tmp_path / "s.ofx", _ofx(_line("20250601", "-1.00", "0") + _line("20250602", "-2.00", "0")), "s.ofx", "R1")
    assert read.lines.sort("date")["source_line"].to_list() == [7, 8]


def test_an_ofx_amount_beyond_any_account_is_rejected_not_a_crash(tmp_path):
    ofx = (b"<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>GBP<BANKACCTFROM><ACCTID>12345678</BANKACCTFROM><BANKTRANLIST>"
           b"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20250601<TRNAMT>-40.00<FITID>1<NAME>A</STMTTRN>"
           b"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20250602<TRNAMT>-1E30<FITID>2<NAME>B</STMTTRN>"
           b"</BANKTRANLIST><LEDGERBAL><BALAMT>1E30<DTASOF>20250630</LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>")
    read = read_statement(tmp_path / "s.ofx", ofx, "s.ofx", "R1")
    assert read.lines["amount_pence"].to_list() == [-4000]
    assert read.rejections.select("column", "reason").rows() == [("TRNAMT", "TRNAMT: '-1E+30' is not an amount in pence")]
    assert read.statements["ledger_balance_pence"].to_list() == [None]


def test_digits_of_other_scripts_are_rejected_not_a_crash(tmp_path):
    """Arabic-Indic or full-width digits match a Unicode \\d but are not numbers a cast can read."""
    from pipeline.ingest.records import AGREEMENTS as AGREEMENTS_TABLE, RECEIPTS, read_table

    receipts = ("receipt_id,date,supplier,gross,payment_method\nA1,2025-06-01,Shop,3.00,card\n"
                "A2,2025-06-01,Shop,١٢.٣٤,card\nA3,２０２５-06-01,Shop,1.00,card\n").encode()
    table = read_table(RECEIPTS, tmp_path / "r.csv", receipts, "receipts/R1/r.csv", "R1")
    assert table.frame["receipt_id"].to_list() == ["A1"]
    assert table.rejections.select("source_line", "column").rows() == [(3, "gross"), (4, "date")]
    agreements = (AGREEMENTS.rstrip("\n") + ",contingency_weeks\nR1,A,direct,2025-01-01,100.00,monthly,2025-01-01,٤\n").encode()
    table = read_table(AGREEMENTS_TABLE, tmp_path / "a.csv", agreements, "agreements.csv", None)
    assert table.rejections.select("source_line", "column").rows() == [(2, "contingency_weeks")]


@pytest.mark.parametrize("suffix", [".xlsx", ".xlsm"])
def test_a_workbook_of_receipts_is_listed_as_read_from_a_workbook(tmp_path, suffix):
    from openpyxl import Workbook

    from pipeline.ingest.inbound import InputFile

    book = Workbook()
    book.active.append(["receipt_id", "date", "supplier", "gross"])
    book.active.append(["RC1", "2025-06-03", "Riverside Leisure", "12.00"])
    path = tmp_path / f"r{suffix}"
    book.save(path)
    batch = read_files([InputFile(str(path), f"receipts/R1/r{suffix}", "receipts", "R1")])
    [record] = batch.files
    assert (record.layout, record.rows_read, record.rejected_reason) == ("xlsx", 1, None)
    assert batch.frame("receipts")["gross_pence"].to_list() == [1200]


@pytest.mark.parametrize(("acctid", "account"), [("7719866", "07719866"), ("719866", "00719866"), ("12345678", "12345678"),
                                                 ("40-47-84 7719866", "07719866"),
                                                 ("40478412345678", "12345678"), ("GB29NWBK60161331926819", "31926819"),
                                                 ("****1234", ""), ("12345", "12345")])  # an ACCTID, however short, is the account
def test_a_statements_account_number_gets_back_the_leading_zeros_a_spreadsheet_dropped(tmp_path, acctid, account):
    """As an agreement's account_number does: "07719866" exported as 7719866 is the same account, not another one."""
    data = OFX_HEAD.replace(b"12345678", acctid.encode()) + _stmttrn(1, "10.00", "F1") + b"\n</BANKTRANLIST></STMTRS>"
    read = read_statement(tmp_path / "s.ofx", data, "s.ofx", "R1")
    assert read.lines["account_id"].to_list() == [account]
    assert read.statements["account_id"].to_list() == [account]


def test_folders_that_cannot_be_listed_are_refused_saying_why(tmp_path, monkeypatch):
    """Permissions or a share gone away (simulated: root, who runs CI, reads any folder): the inbound folder
    itself makes the run unusable; a kind's or a recipient's folder is refused, and the rest is read."""
    from pipeline.ingest import inbound as inbound_module

    root = tmp_path / "inbound"
    for folder in ("statements/R1", "statements/R2", "receipts/R1"):
        (root / folder).mkdir(parents=True)
        (root / folder / "s.csv").write_text("x")
    (root / "agreements.csv").write_text("x")
    real_scandir = os.scandir
    locked = {str(root / "statements" / "R2"), str(root / "receipts")}

    def scandir(path="."):
        if str(path) in locked:
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(inbound_module.os, "scandir", scandir)
    discovery = discover(root)
    assert [item.source_file for item in discovery.files if item.recipient_id] == ["statements/R1/s.csv"]
    refused = {item.source_file: (item.reason, item.recipient_id) for item in discovery.refused}
    assert refused["statements/R2"] == ("folder cannot be read (Permission denied): nothing in it was read", "R2")
    assert refused["receipts"] == ("folder cannot be read (Permission denied): nothing in it was read", None)
    assert inbound_module.recipient_folders(root) == 2
    locked.add(str(root))
    monkeypatch.setattr(type(root), "iterdir", lambda self: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    with pytest.raises(InboundUnusable, match=r"^inbound folder '.*inbound' cannot be read: Permission denied$"):
        discover(root)
    assert inbound_module.recipient_folders(root) == 0


def test_a_receipts_category_is_read_as_a_provision_lines_is(tmp_path):
    from pipeline.ingest.records import RECEIPTS, read_table

    data = "receipt_id,date,supplier,gross,category\nA,2025-06-01,S,1.00,Short Breaks\nB,2025-06-01,S,1.00,personal-assistant \n"
    read = read_table(RECEIPTS, tmp_path / "r.csv", data.encode(), "receipts/R1/r.csv", "R1")
    assert read.frame["category"].to_list() == ["short_breaks", "personal_assistant"]


def _provision_rejection(recipient_id: str | None, line: int, reason: str, source_file: str = "provision.csv") -> dict:
    return dict(recipient_id=recipient_id, source_file=source_file, source_line=line, column="amount", value="x", reason=reason)


def test_a_plan_is_unread_where_a_line_of_it_was_rejected_and_the_rejection_says_so():
    """A rejected provision row leaves its recipient's plan unread (its id padded, in another case, not yet typed);
    a repeated row (the first copy kept), a row of no monitored recipient and another file's row do not, and one
    whose id is blank or no id at all cannot say whose plan it leaves short. A recipient with no line is unread too."""
    from pipeline.ingest.load import REPEAT
    from pipeline.ingest.plans import NOBODYS, unread_plans

    rejections = pl.DataFrame([
        _provision_rejection("R1", 3, "column 'amount': 'x' is not money"),
        _provision_rejection("R2", 4, REPEAT + "line 2 in every column: the same provision line twice is counted once"),
        _provision_rejection("R9", 5, "column 'recipient_id': 'R9' has no agreement, so this provision row cannot be checked"),
        _provision_rejection(None, 6, "column 'recipient_id': blank"),
        _provision_rejection("R2", 2, "column 'amount': 'x' is not money", source_file="la_payments.csv"),
        _provision_rejection("r3 ", 7, "row has 9 fields but the header has 8"),
        _provision_rejection("R1", 8, "column 'per': 'fortnight' is not one of week, month, year, one_off"),
        _provision_rejection("DP 3", 9, "column 'recipient_id': 'DP 3' is not an id"),
        _provision_rejection("NT1", 10, "column 'recipient_id': the agreement of 'NT1' (agreements.csv line 3) was rejected"),
    ], schema=schemas.REJECTIONS)
    lines = pl.DataFrame({"recipient_id": ["R1", "R2", "R3"]})
    unread, noted = unread_plans(rejections, "provision.csv", True, lines, {"R1", "R2", "R3", "R4"}, {"nt1"})
    assert unread.rows() == [("R1", "provision.csv lines 3, 8 rejected"), ("R3", "provision.csv line 7 rejected"),
                             ("R4", "no line of theirs in provision.csv")]
    reasons = rejections["reason"].to_list()
    assert noted["reason"].to_list() == [
        reasons[0] + "; so SPEND_NOT_IN_PLAN is not judged for R1 this month", reasons[1],
        f"{reasons[2]}; {NOBODYS}",  # R9 has no agreement: a typo of R1's id, as like as not
        f"{reasons[3]}; {NOBODYS}", reasons[4],
        reasons[5] + "; so SPEND_NOT_IN_PLAN is not judged for R3 this month",
        reasons[6] + "; so SPEND_NOT_IN_PLAN is not judged for R1 this month", f"{reasons[7]}; {NOBODYS}", reasons[8]]


def test_a_council_of_notional_agreements_has_no_plan_to_judge():
    """A review found the run failed when no agreement was monitored (every one notional): no plan, no note."""
    from pipeline.ingest.plans import unread_plans

    rejections = pl.DataFrame([_provision_rejection("NT1", 3, "column 'amount': 'x' is not money")], schema=schemas.REJECTIONS)
    unread, noted = unread_plans(rejections, "provision.csv", True, pl.DataFrame({"recipient_id": ["NT1"]}), set(), {"nt1"})
    assert unread.height == 0 and noted.equals(rejections)


@pytest.mark.parametrize(("provision_file", "usable", "why"), [
    (None, False, "provision.csv is missing"),  # discovery refused "provision.csv" as missing
    ("provision.xlsx", False, "provision.xlsx could not be read"),
])
def test_without_a_usable_provision_file_no_plan_is_read(provision_file, usable, why):
    from pipeline.ingest.plans import unread_plans

    name = provision_file or "provision.csv"
    rejections = pl.DataFrame([_provision_rejection(None, 0, "file refused", source_file=name),
                               _provision_rejection(None, 0, "file refused", source_file="la_payments.csv")], schema=schemas.REJECTIONS)
    unread, noted = unread_plans(rejections, provision_file, usable, pl.DataFrame({"recipient_id": ["R1"]}), {"R2", "R1"}, set())
    assert unread.rows() == [("R1", why), ("R2", why)]
    assert noted["reason"].to_list() == ["file refused; so no spend is judged SPEND_NOT_IN_PLAN this month", "file refused"]


def test_a_row_above_the_header_or_on_another_sheet_names_no_recipient():
    """A ragged row of the council's table names the recipient in its id column; a row outside the table does
    not (its cells are not where the header says): a note "DP0003 reviewed" must not leave DP0003's plan unread."""
    from pipeline.ingest.records import COUNCIL_TABLES, read_table

    kind = next(kind for kind in COUNCIL_TABLES if kind.name == "provision")
    data = (b"DP0003,reviewed by JS\n"
            b"recipient_id,line_id,category,description,amount,per\n"
            b" DP0004 ,L1,activities,Clubs, outings,20.00,month\n"
            b"DP0005,L1,activities,Clubs,20.00,month\n")
    read = read_table(kind, "provision.csv", data, "provision.csv")
    assert read.rejections.select("source_line", "recipient_id").rows() == [(1, None), (3, "DP0004")]
    assert read.frame["recipient_id"].to_list() == ["DP0005"]
