"""A linear scan of plain OFX bank and card statements: ofxparse's results without its parse tree.

ofxparse builds a BeautifulSoup tree of every file (about 25 ms for a small
statement, quadratic for large SGML ones), which dominates a run of thousands
of files. Plain statements (STMTRS/CCSTMTRS blocks of STMTTRN records) need
only their tags read in order, which this does with regular expressions in
one pass. It returns the same account/statement/transaction shapes as
ofxparse and uses ofxparse's own date and amount conversions (``parser``), so the two
agree to the field (tests/test_ofx_scan.py checks every corpus file).
Anything it is not sure of (investment statements, a transaction it cannot
read) returns None, and the caller hands the file to ofxparse instead; a
transaction with no FITID at all is discarded, as ofxparse discards it, so
that one such line does not send a large file through ofxparse's tree, which
grows quadratically with an SGML file's size.
"""

from __future__ import annotations

import decimal
import functools
import html
import re
from collections.abc import Callable
from types import SimpleNamespace

_STATEMENT_TAGS = re.compile(r"<(/?)(STMTRS|CCSTMTRS)>", re.I)
_TRANSACTION_TAGS = re.compile(r"<(/?)(STMTTRN|BANKTRANLIST)>", re.I)
_TAG_VALUE = {}
_ANY_TAG_VALUE = re.compile(r"<([A-Za-z0-9.]+)>\s*(?:<!\[CDATA\[(.*?)\]\]>|([^<]*))", re.S)


def _value(text: str, tag: str) -> str | None:
    pattern = _TAG_VALUE.get(tag)
    if pattern is None:
        pattern = _TAG_VALUE[tag] = re.compile(rf"<{tag}>\s*(?:<!\[CDATA\[(.*?)\]\]>|([^<]*))", re.I | re.S)
    found = pattern.search(text)
    if found is None:
        return None
    return _text(found.group(1), found.group(2))


def _text(cdata: str | None, text: str) -> str | None:
    value = cdata if cdata is not None else (html.unescape(text) if "&" in text else text)
    return value.strip() or None


def _spans(tags: re.Pattern, text: str, opener: set[str], ends: Callable[[str, bool, str], bool]) -> list[str]:
    """The text after each opening tag up to the first tag that ``ends`` it (or the end), in order.

    What ``re.findall(r"<OPEN>(.*?)(?=<END>|...|\\Z)", text, re.S | re.I)`` finds, from one pass
    over the tags: a lazy ``.*?`` before a lookahead of several tags tries every alternative at
    every character, and was half of reading an OFX file.
    """
    found = [(match.start(), match.end(), match.group(1) == "/", match.group(2).upper()) for match in tags.finditer(text)]
    spans: list[str] = []
    index = 0
    while index < len(found):
        _, end, closing, name = found[index]
        index += 1
        if closing or name not in opener:
            continue
        while index < len(found) and not ends(name, found[index][2], found[index][3]):
            index += 1  # the tags inside the span; the one that ends it may open the next
        spans.append(text[end:found[index][0] if index < len(found) else len(text)])
    return spans


def _statement_blocks(text: str) -> list[str]:
    """Each STMTRS or CCSTMTRS body, ended by its closing tag or the next statement's opening one."""
    return _spans(_STATEMENT_TAGS, text, {"STMTRS", "CCSTMTRS"}, lambda name, shut, other: not shut or other == name)


def _transaction_records(body: str) -> list[str]:
    """Each STMTTRN body, ended by its closing tag, the next STMTTRN or the end of the BANKTRANLIST."""
    return _spans(_TRANSACTION_TAGS, body, {"STMTTRN"},
                  lambda name, shut, other: other == "STMTTRN" or (shut and other == "BANKTRANLIST"))


def _fields(body: str) -> dict[str, str | None]:
    """Every tag's first value in one pass over a transaction (what ``_value`` finds tag by tag)."""
    fields: dict[str, str | None] = {}
    for tag, cdata, text in _ANY_TAG_VALUE.findall(body):  # tuples, not match objects: a third faster
        tag = tag.upper()
        if tag not in fields:
            fields[tag] = _text(cdata or None, text)  # an empty CDATA and no CDATA both come to nothing
    return fields


@functools.cache
def parser():
    """ofxparse's parser, reading each date and time as the bank wrote it.

    ofxparse applies a time zone given in brackets (``20250601000000[+1:BST]``)
    to give UTC, which moves a line posted in the first hour of 1 June into
    31 May, and so out of its month. The bank's own date is the one a family
    sees and the one a period is judged by, so the zone is dropped, not
    applied (which also keeps 9999-12-31 with a negative zone from
    overflowing the calendar and failing the whole file).
    """
    from ofxparse import OfxParser

    class LocalDates(OfxParser):
        custom_date_format = None

        @classmethod
        def parseOfxDateTime(cls, ofxDateTime):
            return super().parseOfxDateTime(ofxDateTime.split("[", 1)[0])

    return LocalDates


@functools.lru_cache(maxsize=8192)  # a statement's lines share few dates; datetimes are immutable
def _datetime(text: str | None):
    return parser().parseOfxDateTime(text) if text else None


@functools.lru_cache(maxsize=8192)
def _decimal(text: str | None):
    return parser().toDecimal(SimpleNamespace(contents=[text])) if text is not None else None


def scan(text: str) -> list[SimpleNamespace] | None:
    """Accounts with ``account_id`` and ``statement`` as ofxparse gives them, or None to defer to ofxparse."""
    upper = text.upper()
    if "<INVSTMTRS>" in upper or ("<STMTRS>" not in upper and "<CCSTMTRS>" not in upper):
        return None
    accounts = []
    try:
        for body in _statement_blocks(text):
            head, _, rest = body.partition("<STMTTRN>") if "<STMTTRN>" in body.upper() else (body, "", "")
            transactions, discarded = [], []
            for record in _transaction_records(body):
                transaction = _transaction(record)
                if transaction is None:
                    return None
                if transaction is NO_FITID:  # discarded as ofxparse discards it, rather than parse the file again
                    discarded.append({"error": "Missing FIT id (a required field)", "content": record})
                else:
                    transactions.append(transaction)
            tail = body[body.upper().rfind("</BANKTRANLIST>"):] if "</BANKTRANLIST>" in body.upper() else body
            ledger = re.search(r"<LEDGERBAL>(.*?)(?=</LEDGERBAL>|<AVAILBAL>|\Z)", tail, re.S | re.I)
            statement = SimpleNamespace(
                currency=(_value(head, "CURDEF") or "").lower(),
                start_date=_datetime(_value(head, "DTSTART")),
                end_date=_datetime(_value(head, "DTEND")),
                balance=_decimal(_value(ledger.group(1), "BALAMT")) if ledger and _value(ledger.group(1), "BALAMT") else None,
                balance_date=_datetime(_value(ledger.group(1), "DTASOF")) if ledger else None,
                transactions=transactions,
                discarded_entries=discarded,
            )
            accounts.append(SimpleNamespace(account_id=_value(head, "ACCTID") or "", statement=statement))
    except (ValueError, decimal.InvalidOperation, TypeError, IndexError, AttributeError):
        return None
    return accounts or None


NO_FITID = SimpleNamespace()  # a transaction with no <FITID> tag at all, which ofxparse discards


def _transaction(body: str) -> SimpleNamespace | None:
    fields = _fields(body)
    amount, posted, kind, fitid = fields.get("TRNAMT"), fields.get("DTPOSTED"), fields.get("TRNTYPE"), fields.get("FITID")
    if amount is None or posted is None or kind is None:
        return None
    if fitid is None:
        return NO_FITID if "FITID" not in fields else None
    return SimpleNamespace(
        type=kind.lower(),
        payee=fields.get("NAME") or "",
        memo=fields.get("MEMO") or "",
        amount=_decimal(amount),
        date=_datetime(posted),
        id=fitid,
        sic=fields.get("SIC"),
    )
