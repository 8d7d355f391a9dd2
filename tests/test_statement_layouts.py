"""Golden files: every statement layout, real corpus samples and our own, to canonical lines."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipeline.ingest.statements import read_statement
from tests.conftest import DATA, GOLDEN, check_golden

COLUMNS = ["date", "amount_pence", "balance_pence", "description", "counterparty", "trntype", "mcc", "fitid",
           "account_id", "seq", "source_line", "layout", "txn_key"]
OURS = sorted((DATA / "statements").iterdir())
REAL = {
    "lloyds_hledger": "full-fledged-hledger/16-fetching-prices/import/lloyds/in/99966633_20171224_2043.csv",
    "lloyds_ofxstatement": "ofxstatement-lloyds/tests/sample-statement.csv",
    "nationwide_statement": "nationwide-transaction-parser/fixtures/test-statement.csv",
    "nationwide_midata": "nationwide-transaction-parser/fixtures/test-midata.csv",
    "first_direct": "bank2ynab/test/test-data/20180226_12345678.csv",
    "monzo_2018": "bank2ynab/test/test-data/MonzoDataExport_February2018_2018-02-26_174335.csv",
    "ofx_cp1252": "actual/packages/loot-core/src/mocks/files/1252.qfx",
    "ofx_latin1": "actual/packages/loot-core/src/mocks/files/8859-1.qfx",
    "ofx_multi_decimal": "actual/packages/loot-core/src/mocks/files/data-multi-decimal.ofx",
    "ofx_empty_tags": "beancount-import/testdata/source/ofx/checking-emptyledgerbal.ofx",
    "ofx_no_header": "beancount-import/testdata/source/ofx/amex.ofx",
    "ofx_cut_header": "csv2ofx/data/converted/default.ofx",
    "ofx2_xml": "ofxtools/tests/data/stmtrs.ofx",
    "ofx_multiple_accounts": "ofxparse/tests/fixtures/multiple_accounts2.ofx",
}


def canonical(path: Path, source_file: str) -> str:
    read = read_statement(path, path.read_bytes(), source_file, "R1", currencies=None)
    statements = read.statements.drop("recipient_id").write_csv()
    return read.lines.select(COLUMNS).write_csv() + "\n# statements\n" + statements


def check_statement(name: str, text: str, regen: bool) -> None:
    check_golden(GOLDEN / "statements" / f"{name}.csv", text, regen)


@pytest.mark.parametrize("path", OURS, ids=[path.stem for path in OURS])
def test_our_layout_samples(path, regen):
    check_statement(f"ours_{path.stem}", canonical(path, path.name), regen)


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_bank_files(name, corpus, regen):
    check_statement(f"real_{name}", canonical(corpus / REAL[name], REAL[name]), regen)


def test_every_layout_has_a_sample():
    from pipeline.ingest.bank_csv import HSBC, LAYOUTS

    sampled = {read_statement(path, path.read_bytes(), path.name, "R1").layout for path in OURS}
    assert {layout.name for layout in (*LAYOUTS, HSBC)} | {"ofx"} == sampled


def test_same_transactions_in_every_layout():
    """Our samples hold the same six bank lines: each layout must read the same money on the same days."""
    seen = {}
    for path in OURS:
        lines = read_statement(path, path.read_bytes(), path.name, "R1").lines.sort("seq")
        seen[path.stem] = list(zip(lines["date"].to_list(), lines["amount_pence"].to_list()))
    first = next(iter(seen.values()))
    assert len(first) == 6
    assert all(rows == first for rows in seen.values()), seen


@pytest.mark.parametrize(("card", "account"), [("4929123456781234", "card 1234"), ("4929 1234 5678 1234", "card 1234"),
                                               ("************4821", "card 4821"), ("", "card")])
def test_a_card_number_names_the_card_not_a_bank_account(card, account):
    """Unmasked or masked, a prepaid card's number makes the card an account of its own, by its last four digits:
    never compared with the registered bank account, and never merged with another card (a red team found two
    cards' lines of the same day and amount counted once)."""
    data = (DATA / "statements" / "prepaid_card.csv").read_text().replace("************4821", card).encode()
    read = read_statement("card.csv", data, "card.csv", "R1")
    assert read.lines.height == 6 and set(read.lines["account_id"]) == set(read.statements["account_id"]) == {account}
    assert "4929" not in read.lines.write_csv() + read.statements.write_csv()  # the rest of the number is not kept


@pytest.mark.parametrize(("written", "mcc"), [("7995", "7995"), (" 7995 ", "7995"), ("7995.0", "7995"), ("7995.00", "7995"),
                                              ("742", "0742"), ("742.0", "0742"), ("7995.5", "79955"), ("MCC 7995", "7995")])
def test_a_merchant_code_saved_as_a_number_keeps_its_four_digits(written, mcc):
    """A spreadsheet writes 7995 as 7995.0 and 0742 as 742; a fraction is not a code (Great Expectations rejects it)."""
    data = (DATA / "statements" / "prepaid_card.csv").read_text().replace(",7995,", f",{written},").encode()
    read = read_statement("card.csv", data, "card.csv", "R1")
    assert read.lines.filter(pl.col("counterparty") == "BET365 LTD")["mcc"].to_list() == [mcc]


def test_a_stray_blank_line_does_not_end_a_midata_export():
    """The summary block after the blank line is not transactions; transactions after a stray blank line are."""
    lines = (DATA / "statements" / "nationwide_midata.csv").read_bytes().split(b"\n")
    data = b"\n".join([*lines[:5], b"", *lines[5:]])  # a blank line after the second transaction
    read = read_statement("m.csv", data, "m.csv", "R1")
    assert (read.lines.height, read.rows_read, read.rejections.height) == (6, 6, 0)


def test_a_transaction_above_the_header_is_rejected_not_passed_over():
    data = (b"Account:,12-34-56 ****5678\n2025-06-03,BET365,-500.00,2723.76\nDate,Description,Amount,Balance\n"
            b"2025-06-04,Shop,-1.00,2722.76\n")
    read = read_statement("s.csv", data, "s.csv", "R1")
    assert (read.lines.height, read.rows_read) == (1, 2)
    assert read.rejections.select("source_line", "reason").rows() == [
        (2, "row above the header row (line 3): not read as a transaction")]


@pytest.mark.parametrize("first", ["31/02/2025,COUNCIL DIRECT PAYMENT,1300.00", "02/06/2025,COUNCIL DIRECT PAYMENT,13OO.00"])
def test_a_mistyped_first_row_of_an_hsbc_export_is_one_rejected_row(first):
    """HSBC's export has no header and is known by its rows: one bad cell among them rejects its row, not the file."""
    lines = (DATA / "statements" / "hsbc.csv").read_text().splitlines()
    read = read_statement("h.csv", "\n".join([first, *lines[1:]]).encode(), "h.csv", "R1")
    assert (read.layout, read.lines.height, read.rows_read) == ("hsbc", len(lines) - 1, len(lines))
    assert read.rejections["source_line"].to_list() == [1]


@pytest.mark.parametrize("header", ["When,What,How much", "Date,Details,Amount"])
def test_three_columns_under_an_unknown_header_are_not_taken_for_hsbc(header):
    from pipeline.ingest.text import UnreadableFile

    lines = (DATA / "statements" / "hsbc.csv").read_text().splitlines()
    with pytest.raises(UnreadableFile, match="unknown bank CSV layout"):
        read_statement("h.csv", "\n".join([header, *lines[:4]]).encode(), "h.csv", "R1")


@pytest.mark.parametrize(("written", "account"), [("12345678", "12345678"), ("1234567", "01234567"), ("123456", "00123456"),
                                                  ("12345", ""), ("****5678", "")])
def test_a_csv_account_number_of_fewer_than_six_digits_is_not_an_account(written, account):
    """Six or seven digits are an account number that lost its leading zeros; fewer is a fragment (a customer
    number, the end of a card), taken as unknown: the registered account is then assumed, not flagged."""
    data = (DATA / "statements" / "lloyds.csv").read_text().replace(",12345678,", f",{written},").encode()
    read = read_statement("l.csv", data, "l.csv", "R1")
    assert set(read.lines["account_id"]) == {account}
