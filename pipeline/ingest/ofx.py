"""OFX 1.x (SGML) and 2.x (XML) statements, .ofx and .qfx.

Plain bank and card statements are read by ``ofx_scan`` (ofxparse's results
at a fraction of its cost); every other file goes through ofxparse.

ofxparse decodes the body with the charset its header names, and fails on
OFX 2.x files with non-ASCII bytes. So the bytes are decoded here first (the
header's CHARSET/ENCODING or XML encoding, else UTF-8, else cp1252), and the
text is handed to ofxparse as ASCII with every other character written as a
numeric character reference, which its HTML parser turns back into text.

Each transaction's ``source_line`` is the file line of its ``<STMTTRN>``,
found by FITID (a FITID the file repeats takes its lines in turn), so a
finding can be traced to the exact place in the file.
"""

from __future__ import annotations

import io
import re
import warnings
from bisect import bisect_right
from collections import Counter, deque
from dataclasses import dataclass

import polars as pl

from pipeline import schemas
from pipeline.ingest.ofx_scan import parser, scan
from pipeline.ingest.text import UnreadableFile
from pipeline.money import pence_from_decimal

_SGML_CHARSET = re.compile(rb"^\s*CHARSET:\s*(\S+)", re.MULTILINE)
_SGML_ENCODING = re.compile(rb"^\s*ENCODING:\s*(\S+)", re.MULTILINE)
_XML_ENCODING = re.compile(rb"<\?xml[^>]*encoding=[\"']([A-Za-z0-9_.-]+)[\"']", re.IGNORECASE)
_CHARSETS = {b"1252": "cp1252", b"8859-1": "latin-1", b"ISO-8859-1": "latin-1", b"NONE": None}
_STMTTRN = re.compile(r"<STMTTRN>", re.IGNORECASE)
_FITID = re.compile(r"<FITID>\s*([^<\r\n]*)", re.IGNORECASE)


def looks_like_ofx(data: bytes) -> bool:
    head = data[:4096].upper()
    return b"OFXHEADER" in head or b"<OFX>" in head or b"<OFX " in head


def _codec(data: bytes) -> str | None:
    head = data[:2048]
    for pattern in (_XML_ENCODING, _SGML_CHARSET):
        found = pattern.search(head)
        if found:
            value = found.group(1).upper()
            if value in _CHARSETS:
                return _CHARSETS[value]
            try:
                return "utf-8" if value in (b"UTF-8", b"UTF8") else io.TextIOWrapper(io.BytesIO(), value.decode()).encoding
            except (LookupError, ValueError):  # an unknown codec; a name with a NUL or a byte that is not UTF-8
                continue
    found = _SGML_ENCODING.search(head)
    if found and found.group(1).upper().replace(b"-", b"") == b"UTF8":
        return "utf-8"
    return None


def decode_ofx(data: bytes) -> str:
    codec = _codec(data)
    for candidate in (codec, "utf-8", "cp1252", "latin-1"):
        if candidate is None:
            continue
        try:
            return data.decode(candidate).lstrip("\ufeff")
        except (UnicodeDecodeError, LookupError):
            continue
    raise UnreadableFile("cannot decode the OFX text")  # latin-1 decodes anything: unreachable


_STANDARD_HEADER = (
    "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\n"
    "CHARSET:1252\nCOMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n"
)


_EMPTY_ELEMENT = re.compile(r"<([A-Za-z0-9.]+)>\s*</\1>|<[A-Za-z0-9.]+\s*/>")


def _prepare(text: str) -> str:
    """What real files do that ofxparse trips on, mended before it sees them.

    Files with no header, or a cut-down one (csv2ofx writes two lines), get the
    standard header; empty elements (``<TRNUID></TRNUID>``, ``<BALAMT/>``) are
    dropped, as if absent. Line numbers are taken from the original text.
    """
    text = _EMPTY_ELEMENT.sub("", text)
    if "OFXHEADER" in text[:1024].upper():
        return text
    start = text.upper().find("<OFX>")
    if start < 0:
        raise UnreadableFile("no <OFX> element: not an OFX file")
    return _STANDARD_HEADER + text[start:]


def _fitid_lines(text: str) -> tuple[dict[str, deque[int]], list[int]]:
    """FITID -> file lines of its <STMTTRN>s in order, and the lines of every <STMTTRN> in order."""
    newlines = [match.start() for match in re.finditer("\n", text)]
    starts = [match.start() for match in _STMTTRN.finditer(text)]
    lines = [bisect_right(newlines, start) + 1 for start in starts]
    by_fitid: dict[str, deque[int]] = {}
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(text)
        found = _FITID.search(text, start, end)
        if found:
            by_fitid.setdefault(found.group(1).strip(), deque()).append(lines[index])
    return by_fitid, lines


@dataclass(frozen=True)
class OfxRead:
    """One file's statements, lines and rejections as plain rows; frames are built per batch."""

    lines: list[dict]  # LINE_SCHEMA
    statements: list[dict]  # STATEMENT_SCHEMA (schemas.STATEMENTS plus "currency")
    rejections: list[dict]  # REJECTION_SCHEMA
    rows_read: int


LINE_SCHEMA = {
    "statement_id": pl.String, "account_id": pl.String, "date": pl.Date, "amount_pence": pl.Int64,
    "description": pl.String, "counterparty": pl.String, "trntype": pl.String, "mcc": pl.String,
    "fitid": pl.String, "source_line": pl.Int64, "recipient_id": pl.String, "source_file": pl.String,
}
STATEMENT_SCHEMA = {**schemas.STATEMENTS, "currency": pl.String}


def lines_frame(rows: list[dict]) -> pl.DataFrame:
    return schemas.conform(pl.DataFrame(rows, schema=LINE_SCHEMA).with_columns(pl.lit("ofx").alias("layout")), schemas.TRANSACTIONS)


def statements_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=STATEMENT_SCHEMA)


def rejections_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schemas.REJECTIONS)


def _with_ofxparse(text: str) -> list:
    ascii_bytes = _prepare(text).encode("ascii", "xmlcharrefreplace")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ofx = parser().parse(io.BytesIO(ascii_bytes), fail_fast=False)
    except Exception as exc:  # ofxparse raises bare Exceptions and bs4/parse errors alike
        raise UnreadableFile(f"not a readable OFX file ({type(exc).__name__}: {str(exc)[:120]})") from None
    return list(getattr(ofx, "accounts", []))


def parse_ofx(data: bytes, source_file: str, recipient_id: str, fast: bool = True) -> OfxRead:
    """One OFX file's rows; plain statements by a linear scan, anything else through ofxparse."""
    text = decode_ofx(data)
    scanned = scan(_EMPTY_ELEMENT.sub("", text)) if fast else None
    accounts = scanned if scanned is not None else _with_ofxparse(text)

    by_fitid, ordered_lines = _fitid_lines(text)
    rows: list[dict] = []
    statements: list[dict] = []
    rejections: list[dict] = []
    ordinal = 0
    accounts = [account for account in accounts if account.statement is not None]
    if not accounts:
        raise UnreadableFile("the OFX file holds no bank or card statement (no STMTRS/CCSTMTRS)")
    for number, account in enumerate(accounts):
        statement = account.statement
        if type(statement).__name__ == "InvestmentStatement":
            raise UnreadableFile("investment statement: dpmon reads bank and card accounts only")
        account_text = str(account.account_id or "")  # statements.assemble makes it an account number
        statement_id = f"{source_file}#{account.account_id or ''}#{number}"  # a file may hold two of one account's
        for transaction in statement.transactions:
            line = _next_line(by_fitid, str(transaction.id or ""))
            if line is None:
                line = ordered_lines[ordinal] if ordinal < len(ordered_lines) else 0
            ordinal += 1
            pence = pence_from_decimal(transaction.amount) if transaction.amount is not None else None
            if pence is None or transaction.date is None:
                column = "TRNAMT" if pence is None else "DTPOSTED"
                rejections.append(
                    {"recipient_id": recipient_id, "source_file": source_file, "source_line": line, "column": column,
                     "value": str(transaction.amount),
                     "reason": f"{column}: '{transaction.amount}' is not an amount in pence" if pence is None
                     else "DTPOSTED: missing or unreadable date"}
                )
                continue
            payee = (transaction.payee or "").strip()
            memo = (transaction.memo or "").strip()
            rows.append(
                {
                    "statement_id": statement_id,
                    "account_id": account_text,
                    "date": transaction.date.date(),
                    "amount_pence": pence,
                    "description": " ".join(part for part in (payee, memo) if part),
                    "counterparty": payee,
                    "trntype": str(transaction.type or "").upper(),
                    "mcc": (transaction.sic or None) and re.sub(r"[^0-9]", "", str(transaction.sic)) or None,
                    "fitid": str(transaction.id or "").strip() or None,
                    "source_line": line,
                    "recipient_id": recipient_id,
                    "source_file": source_file,
                }
            )
        for entry in getattr(statement, "discarded_entries", []) or []:
            content = str(entry.get("content", ""))
            fitid = _FITID.search(content)
            rejections.append(
                {"recipient_id": recipient_id, "source_file": source_file, "source_line": (_next_line(by_fitid, fitid.group(1)) or 0) if fitid else 0, "column": "STMTTRN",
                 "value": content[:80], "reason": "transaction not readable: " + " ".join(str(entry.get("error", "unknown error")).split())}
            )
        balance = getattr(statement, "balance", None)
        balance_pence = pence_from_decimal(balance) if balance not in (None, "") else None
        balance_date = getattr(statement, "balance_date", None)
        statements.append(
            {
                "statement_id": statement_id,
                "account_id": account_text,
                "layout": "ofx",
                "start_date": _date(getattr(statement, "start_date", None)),
                "end_date": _date(getattr(statement, "end_date", None)),
                "ledger_balance_pence": balance_pence,
                "ledger_balance_date": _date(balance_date),
                "source_file": source_file,
                "currency": str(getattr(statement, "currency", "") or "").upper(),
                "recipient_id": recipient_id,
            }
        )
    rejections = _account_for_every_transaction(ordered_lines, rows, rejections, source_file, recipient_id)
    return OfxRead(rows, statements, rejections, len(rows) + len(rejections))


def _next_line(by_fitid: dict[str, deque[int]], fitid: str) -> int | None:
    lines = by_fitid.get(fitid.strip())
    return lines.popleft() if lines else None


def _account_for_every_transaction(stmttrn_lines: list[int], rows: list[dict], rejections: list[dict], source_file: str,
                                   recipient_id: str) -> list[dict]:
    """Rejections with a line for each transaction of the file that was neither read nor rejected.

    A file cut short in its sixth <STMTTRN> leaves ofxparse with no statement at
    all, and a transaction without a FITID is discarded with no line: each
    <STMTTRN> opening the file holds is a row, and is used or rejected. A
    discarded transaction takes the first line not otherwise accounted for.
    """
    if len(rows) + len(rejections) == len(stmttrn_lines) and all(rejection["source_line"] > 0 for rejection in rejections):
        return rejections  # every one read or rejected at its line: the usual case, checked without counting
    unread = Counter(stmttrn_lines) - Counter(row["source_line"] for row in rows) - Counter(
        rejection["source_line"] for rejection in rejections if rejection["source_line"] > 0)
    if not unread:
        return rejections
    lines = sorted(unread.elements())
    placed = []
    for rejection in rejections:
        if rejection["source_line"] <= 0 and lines:
            rejection = {**rejection, "source_line": lines.pop(0)}
        placed.append(rejection)
    return placed + [
        {"recipient_id": recipient_id, "source_file": source_file, "source_line": line, "column": "STMTTRN", "value": "",
         "reason": "transaction not readable: the file is cut short or the <STMTTRN> is malformed"}
        for line in lines
    ]


def _date(value) -> object:
    if value is None or value == "":
        return None
    return value.date() if hasattr(value, "date") else value
