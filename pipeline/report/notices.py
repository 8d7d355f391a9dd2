"""Draft recovery notices: one editable Word letter per recipient with money to recover or evidence.

A notice states each reason with the transactions behind it, the total to
repay, the date by which to repay or send evidence, who must pay, and the right
to ask for the decision to be reconsidered. Unevidenced spending is asked for
evidence, never demanded: it becomes recoverable only if no evidence comes.
Letters are drafts for an officer to check and sign, so they say so.
"""

from __future__ import annotations

import dataclasses
import functools
import io
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from pipeline.money import sterling
from pipeline.reconcile.outcome import MISUSE
from pipeline.report.xml_text import xml_safe

PAYER = {
    "direct": "you, as the holder of the direct payment account",
    "combined": "you, as the holder of the direct payment account (for the part of the budget paid to you)",
    "third_party": "the organisation that manages the direct payment account on the person's behalf",
}
REASONS = {
    "PROHIBITED_SPEND": "spent with a merchant that direct payments may not be used with",
    "SPEND_NOT_IN_PLAN": "spent on something outside the support agreed in Section J of the plan",
    "SPEND_OUTSIDE_AGREEMENT": "spent on a date the direct payment agreement did not cover",
    "TRANSACTION_UNEVIDENCED": "we have no receipt, invoice or payslip for this payment",
    "CASH_WITHDRAWAL_UNEVIDENCED": "cash taken out that receipts for spending in cash do not cover",
}
CASH = "CASH_WITHDRAWAL_UNEVIDENCED"  # about the month's cash, not one payment: dated by the month, paid to "cash"


@dataclass(frozen=True)
class Item:
    date: date | None
    counterparty: str
    amount_pence: int
    reason: str
    source: str  # "path:line" as the outputs cite it
    key: str  # the bank line (or finding) the item is about
    is_cash: bool = False


@dataclass(frozen=True)
class Notice:
    recipient_id: str
    recipient_name: str
    plan_ref: str
    payer: str
    third_party: bool
    surplus_pence: int
    closing_balance_pence: int | None
    contingency_pence: int
    committed_pence: int
    misuse: list[Item]
    misuse_pence: int
    unevidenced: list[Item]
    unevidenced_pence: int
    recovery_pence: int
    notice_date: date
    respond_by: date

    @property
    def demands_repayment(self) -> bool:
        return self.recovery_pence > 0


def _items(findings: pl.DataFrame, rules: tuple[str, ...]) -> dict[str, list[Item]]:
    """Each recipient's items of ``rules``, by date: one per transaction (or per finding, when it is about no
    single line), with every rule that names it."""
    chosen = findings.filter(pl.col("rule").is_in(rules)).with_columns(
        pl.coalesce(pl.col("line_key"), pl.concat_str(pl.col("rule"), pl.col("source_file"))).alias("__item")
    ).sort("date", "source_file", "__item", nulls_last=True, maintain_order=True)
    grouped = chosen.group_by("recipient_id", "__item", maintain_order=True).agg(
        pl.col("source_file").first(), pl.col("date").first(), pl.col("counterparty").first(),
        pl.col("amount_pence").first(), pl.col("rule").unique().sort(), pl.col("detail").first(),
    )
    items: dict[str, list[Item]] = {}
    for recipient, key, source, day, counterparty, amount, rule_list, detail in grouped.iter_rows():
        items.setdefault(recipient, []).append(Item(
            day, counterparty or "", amount or 0, "; ".join(REASONS.get(rule, detail) for rule in rule_list), source or "", key,
            is_cash=CASH in rule_list,
        ))
    return items


def _to_evidence(items: list[Item], misuse_keys: set[str], cash_pence: int) -> list[Item]:
    """What a family is asked to evidence: not a payment it is asked to repay, and of a cash shortfall the part
    the clawback counts (cash withdrawn outside the agreement is repaid instead)."""
    kept = [item for item in items if item.key not in misuse_keys]
    return [dataclasses.replace(item, amount_pence=cash_pence) if item.is_cash else item
            for item in kept if not item.is_cash or cash_pence > 0]


def build_notices(findings: pl.DataFrame, clawback: pl.DataFrame, agreements: pl.DataFrame, notice_date: date,
                  notice_days: int) -> list[Notice]:
    due = clawback.filter((pl.col("recommended_recovery_pence") > 0) | (pl.col("unevidenced_pence") > 0)).sort("recipient_id")
    details = agreements.sort("start_date").group_by("recipient_id").agg(pl.col("plan_ref").last(), pl.col("mechanism").last())
    unevidenced = _items(findings, ("TRANSACTION_UNEVIDENCED", "CASH_WITHDRAWAL_UNEVIDENCED"))
    misuse = _items(findings, MISUSE)
    notices = []
    for row in due.join(details, on="recipient_id", how="left").iter_rows(named=True):
        recipient = row["recipient_id"]
        misused = misuse.get(recipient, [])
        misuse_keys = {item.key for item in misused}
        notices.append(Notice(
            recipient_id=recipient, recipient_name=row["recipient_name"] or recipient,
            plan_ref=row["plan_ref"] or "", payer=PAYER.get(row["mechanism"] or "direct", PAYER["direct"]),
            third_party=row["mechanism"] == "third_party", surplus_pence=row["surplus_pence"],
            closing_balance_pence=row["closing_balance_pence"], contingency_pence=row["contingency_allowed_pence"],
            committed_pence=row["committed_pence"],
            misuse=misused, misuse_pence=row["misuse_pence"],
            unevidenced=_to_evidence(unevidenced.get(recipient, []), misuse_keys, row["unevidenced_cash_pence"]),
            unevidenced_pence=row["unevidenced_pence"], recovery_pence=row["recommended_recovery_pence"],
            notice_date=notice_date, respond_by=notice_date + timedelta(days=notice_days),
        ))
    return notices


def _clean(text: str) -> str:
    """Word documents are XML: characters it cannot hold in recipients' text would make them unwritable."""
    return xml_safe(text)


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _where(source: str) -> str:
    """A cited "statements/R1/june.csv:6" as a family knows it: the file they sent, and its line."""
    path, _, line = source.rpartition(":")
    if not path or not line.isdigit():
        return source.rpartition("/")[2]
    return f"{path.rpartition('/')[2]}, line {line}"


def _table(document, items: list[Item], month: str) -> None:
    table = document.add_table(rows=1, cols=4)
    table.style = "Light Grid Accent 1"
    for cell, text in zip(table.rows[0].cells, ("Date", "Paid to", "Amount", "Why")):
        cell.text = text
    for item in items:
        cells = table.add_row().cells
        day = month if item.is_cash else _day(item.date) if item.date else ""
        paid_to = "cash withdrawals" if item.is_cash else item.counterparty
        why = f"{item.reason} (from {_where(item.source)})" if item.source else item.reason
        for cell, text in zip(cells, (day, paid_to, sterling(item.amount_pence), why)):
            cell.text = _clean(text)


# the styles a letter uses, with those they are based on, linked to, or that Word takes as defaults
LETTER_STYLES = ("Normal", "Default Paragraph Font", "Normal Table", "No List", "Heading 1", "Heading 1 Char",
                 "Heading 2", "Heading 2 Char", "Light Grid Accent 1")


# Parts of python-docx's default template that a letter does not need: Word 2010's copy of every style
# (438 kB, whose compression was a third of each letter's rendering) and the template's preview picture.
# Word and LibreOffice open a document without them.
UNNEEDED_PARTS = ("/stylesWithEffects", "/metadata/thumbnail")


@functools.cache
def letter_template() -> bytes:
    """python-docx's default template with only the letter's styles and parts.

    Each paragraph given a style makes python-docx look for the template's
    default style among all of its 164: that was half of a letter's rendering.
    """
    from docx import Document

    document = Document()
    for style in list(document.styles):
        if style.name not in LETTER_STYLES:
            style.delete()
    for source in (document.part, document.part.package):  # a part no relationship names is not saved
        for key, relationship in list(source.rels.items()):
            if relationship.reltype.endswith(UNNEEDED_PARTS):
                del source.rels[key]
    template = io.BytesIO()
    document.save(template)
    return template.getvalue()


def render_notice(notice: Notice, period: str) -> bytes:
    """One editable Word letter, as the bytes of its .docx file."""
    from docx import Document

    document = Document(io.BytesIO(letter_template()))
    month = f"{date.fromisoformat(period + '-01'):%B %Y}"
    respond_by = _day(notice.respond_by)
    title = "Direct payment: recovery of funds" if notice.demands_repayment else "Direct payment: request for evidence"
    document.add_paragraph("DRAFT: for an officer to check, complete and sign before it is sent.").runs[0].bold = True
    document.add_heading(title, level=1)
    document.add_paragraph(f"Date: {_day(notice.notice_date)}")
    manager = " [Officer: the organisation that manages the account, and its address]" if notice.third_party else ""
    document.add_paragraph(_clean(f"To: {notice.recipient_name} (recipient {notice.recipient_id}, plan {notice.plan_ref}){manager}"))
    document.add_paragraph(
        f"We have reviewed the direct payment account for {month}, as your direct payment agreement allows. "
        "This letter explains what we found and what we need from you."
    )
    if notice.surplus_pence > 0:
        document.add_heading(f"Money not needed for the agreed support: {sterling(notice.surplus_pence)}", level=2)
        owed = (f", and {sterling(notice.committed_pence)} is set aside for the tax, National Insurance and pension owed on "
                f"{month}'s pay" if notice.committed_pence else "")
        document.add_paragraph(
            f"At the end of {month} the account held {sterling(notice.closing_balance_pence or 0)}. You may keep "
            f"{sterling(notice.contingency_pence)} for unexpected costs (the contingency your agreement allows){owed}. "
            f"The rest, {sterling(notice.surplus_pence)}, is more than the agreed support needs."
        )
    if notice.misuse:
        document.add_heading(f"Money not spent as agreed: {sterling(notice.misuse_pence)}", level=2)
        document.add_paragraph("These payments were not used for the support agreed in the plan:")
        _table(document, notice.misuse, month)
    if notice.demands_repayment:
        document.add_heading(f"Amount to repay: {sterling(notice.recovery_pence)}", level=2)
        document.add_paragraph(
            f"Please repay {sterling(notice.recovery_pence)} by {respond_by}. "
            f"The amount should be repaid by {notice.payer}. [Officer: add how to pay and the council's reference.]"
        )
    if notice.unevidenced:
        document.add_heading(f"Evidence we need: {sterling(notice.unevidenced_pence)}", level=2)
        cash = (" For cash taken out, send the receipts for what the cash was spent on."
                if any(item.is_cash for item in notice.unevidenced) else "")
        document.add_paragraph(
            "We could not match these payments to a receipt, invoice or payslip. We are not asking you to repay them. "
            f"Please send us the receipts, invoices or payslips for them by {respond_by}.{cash} "
            "If we do not receive evidence, we may ask for this money to be repaid."
        )
        _table(document, notice.unevidenced, month)
    document.add_heading("If you disagree", level=2)
    if notice.demands_repayment:
        document.add_paragraph(
            f"You have the right to ask us to reconsider this decision. Please write to us, or call, by {respond_by}, "
            "saying why, and send any evidence you have. We will look at it again before asking for any repayment, "
            "and you can also use the council's complaints procedure. [Officer: add contact details.]"
        )
    else:  # nothing has been decided: evidence is asked for
        document.add_paragraph(
            f"If you think we have this wrong, or cannot send the evidence, please write to us, or call, by {respond_by}, "
            "saying why. We will not ask for any repayment before we have looked at what you tell us, and you can also "
            "use the council's complaints procedure. [Officer: add contact details.]"
        )
    document.add_paragraph("Yours sincerely,\n\n[Officer name and role]")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def notice_files(notices: list[Notice], period: str) -> dict[str, bytes]:
    """File name -> .docx bytes. Rendering is the slow part (about 6 ms a letter), and runs where the flow's workers are."""
    return {f"{notice.recipient_id}.docx": render_notice(notice, period) for notice in notices}


def write_notices(files: dict[str, bytes], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in sorted(files.items()):
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    return paths
