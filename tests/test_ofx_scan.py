"""The OFX scan and ofxparse agree on every OFX file we have: the scan is only ever a faster ofxparse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest.ofx import _EMPTY_ELEMENT, decode_ofx, parse_ofx
from pipeline.ingest.ofx_scan import _statement_blocks, _transaction_records, scan
from pipeline.ingest.text import UnreadableFile
from pipeline.synthetic import ANOMALIES, generate
from tests.conftest import CORPUS, DATA


def outcome(data: bytes, fast: bool):
    """What a reading gives; a transaction rejected whole is quoted as each reader holds it (text, or a tag)."""
    try:
        read = parse_ofx(data, "f.ofx", "R1", fast=fast)
    except UnreadableFile as exc:
        return ("rejected", str(exc))
    rejections = [{**rejection, "value": ""} if rejection["column"] == "STMTTRN" else rejection for rejection in read.rejections]
    return (read.lines, read.statements, rejections, read.rows_read)


def ofx_files() -> list[Path]:
    ours = sorted(path for path in (DATA / "statements").iterdir() if path.suffix in (".ofx", ".qfx"))
    theirs = sorted(path for path in CORPUS.rglob("*") if path.suffix.lower() in (".ofx", ".qfx")) if CORPUS.is_dir() else []
    return ours + theirs


@pytest.mark.parametrize("path", ofx_files(), ids=lambda path: path.name)
def test_scan_agrees_with_ofxparse(path):
    assert outcome(path.read_bytes(), fast=True) == outcome(path.read_bytes(), fast=False)


def scanned(path: Path) -> bool:
    """Whether ``parse_ofx`` reads the file by the scan (rather than handing it to ofxparse)."""
    return scan(_EMPTY_ELEMENT.sub("", decode_ofx(path.read_bytes()))) is not None


def test_scan_agrees_on_a_generated_council(tmp_path):
    generate(tmp_path, "2025-06", recipients=40, anomalies=list(ANOMALIES), purchases=4)
    files = [path for path in tmp_path.rglob("*") if path.suffix in (".ofx", ".qfx")]
    assert len(files) >= 10
    for path in files:
        assert scanned(path), path.name
        assert outcome(path.read_bytes(), fast=True) == outcome(path.read_bytes(), fast=False), path.name


# Corpus files the scan hands to ofxparse: investment, sign-on and account-list responses, and bank files
# with something the scan is unsure of (splits, a transaction it cannot read). Any other file is scanned, so
# the agreement tests above compare the scan with ofxparse, not ofxparse with itself.
DEFERRED = {
    "beancount-import/testdata/source/ofx/checking2.ofx", "beancount-import/testdata/source/ofx/vanguard_xfer_in.ofx",
    "csv2ofx/data/converted/default_w_splits.ofx", "csv2ofx/data/example/transfer_example.ofx",
    "ledger-autosync/fixtures/cusip.ofx", "ledger-autosync/fixtures/fidelity-one-dtsettle.ofx",
    "ledger-autosync/fixtures/income.ofx", "ofxparse/tests/fixtures/account_listing_aggregation.ofx",
    "ofxparse/tests/fixtures/bank_small.ofx", "ofxparse/tests/fixtures/error_message.ofx",
    "ofxparse/tests/fixtures/fail_nice/date_missing.ofx", "ofxparse/tests/fixtures/fail_nice/decimal_error.ofx",
    "ofxparse/tests/fixtures/fidelity-savings.ofx", "ofxparse/tests/fixtures/fidelity.ofx",
    "ofxparse/tests/fixtures/investment_401k.ofx", "ofxparse/tests/fixtures/investment_medium.ofx",
    "ofxparse/tests/fixtures/signon_fail.ofx", "ofxparse/tests/fixtures/signon_success.ofx",
    "ofxparse/tests/fixtures/signon_success_no_message.ofx", "ofxparse/tests/fixtures/td_ameritrade.ofx",
    "ofxparse/tests/fixtures/tiaacref.ofx", "ofxparse/tests/fixtures/vanguard.ofx",
    "ofxparse/tests/fixtures/vanguard401k.ofx", "ofxtools/tests/data/invstmtrs.ofx", "ofxtools/tests/data/profrs.ofx",
}


def test_our_samples_are_read_by_the_scan():
    ours = [path for path in ofx_files() if DATA in path.parents]
    assert len(ours) == 2 and all(scanned(path) for path in ours)


def test_the_scan_defers_only_the_corpus_files_it_should(corpus):
    files = {path.relative_to(corpus).as_posix(): path for path in ofx_files() if corpus in path.parents}
    assert len(files) == 50
    assert {name for name, path in files.items() if not scanned(path)} == DEFERRED


# The scan's statement and transaction bodies, as the regular expressions it used to find them by define them.
BLOCKS = re.compile(r"<(STMTRS|CCSTMTRS)>(.*?)(?=</\1>|<STMTRS>|<CCSTMTRS>|\Z)", re.S | re.I)
TRANSACTIONS = re.compile(r"<STMTTRN>(.*?)(?=</STMTTRN>|<STMTTRN>|</BANKTRANLIST>|\Z)", re.S | re.I)
TAG_SOUP = st.lists(st.sampled_from([
    "<STMTRS>", "</STMTRS>", "<CCSTMTRS>", "</CCSTMTRS>", "<stmtrs>", "</ccStmtrs>", "<STMTTRN>", "</STMTTRN>",
    "<stmttrn>", "<BANKTRANLIST>", "</BANKTRANLIST>", "</banktranlist>", "<NAME>ß", "x", "<", ">", "/", "\n",
]), max_size=14).map("".join)


@settings(max_examples=500, deadline=None)
@given(TAG_SOUP)
def test_statement_and_transaction_bodies_are_what_the_lazy_patterns_find(text):
    assert _statement_blocks(text) == [match.group(2) for match in BLOCKS.finditer(text)]
    assert _transaction_records(text) == TRANSACTIONS.findall(text)


def test_a_transaction_without_fitid_does_not_send_the_file_to_ofxparse(monkeypatch):
    """Discarded as ofxparse discards it: the other transactions are read by the scan alone."""
    import pipeline.ingest.ofx as ofx

    body = "".join(f"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>202506{day:02d}<TRNAMT>-1.00{'' if day == 2 else f'<FITID>F{day}'}"
                   f"<NAME>Shop</STMTTRN>\n" for day in range(1, 5))
    data = ("OFXHEADER:100\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>GBP<BANKACCTFROM><ACCTID>12345678"
            "</BANKACCTFROM><BANKTRANLIST>\n" + body + "</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>").encode()
    assert outcome(data, fast=True) == outcome(data, fast=False)
    monkeypatch.setattr(ofx, "_with_ofxparse", lambda text: pytest.fail("handed to ofxparse"))
    read = parse_ofx(data, "f.ofx", "R1")
    assert [line["fitid"] for line in read.lines] == ["F1", "F3", "F4"]
    assert [(rejection["source_line"], rejection["reason"]) for rejection in read.rejections] == [
        (5, "transaction not readable: Missing FIT id (a required field)")]
