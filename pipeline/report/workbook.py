"""The audit workbook, ``exceptions.xlsx``, written with openpyxl in write-only mode.

It gives what auditors expect: a frozen, filterable header on every sheet,
amounts as GBP numbers (exact decimals, never floats), dates as real dates,
widths fitted to the data, severity colours, a Summary whose rule names link
to their sheets, and native Excel charts. Every finding row carries its
``source_file`` (``path:line``). Text that a spreadsheet would read as a
formula is prefixed with an apostrophe and stored as plain text.

The tables' body rows are rendered by ``sheet_rows`` (openpyxl's per-cell cost
made a 280,000-line Transactions sheet take 40 s) with the styles registered
here, and spliced into the file openpyxl saved.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.properties import PageSetupProperties

from pipeline.reconcile.findings import RULES, by_source
from pipeline.report.sheet_rows import CellFormat, clean_cell_text, render_rows, splice
from pipeline.report.tables import FORMULA_START

GBP = '"£"#,##0.00;[Red]-"£"#,##0.00'
DATE = "dd/mm/yyyy"
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
HEADER_FONT = Font(bold=True, color="FFFFFF")
TITLE_FONT = Font(bold=True, size=14)
SECTION_FONT = Font(bold=True, size=12)
LINK_FONT = Font(color="0563C1", underline="single")
SEVERITY_FILL = {  # highest first
    "high": PatternFill("solid", fgColor="F8CBAD"),
    "medium": PatternFill("solid", fgColor="FFE699"),
    "low": PatternFill("solid", fgColor="DDEBF7"),
}
MAX_WIDTH = 60
MAX_ROWS = 1_048_575  # Excel's rows a sheet, less the header


@dataclass(frozen=True)
class Column:
    name: str
    header: str
    kind: str = "text"  # text | money | date | whole | severity


def _money(pence: int | None) -> Decimal | None:
    return None if pence is None else Decimal(pence) / 100


def _cell(sheet, value: Any, kind: str) -> WriteOnlyCell:
    if kind == "money":
        cell = WriteOnlyCell(sheet, value=_money(value))
        cell.number_format = GBP
    elif kind == "date":
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = DATE
    else:
        if isinstance(value, str):
            value = clean_cell_text(value)
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # and stored as text, never as a formula
        if kind == "severity" and isinstance(value, str) and value.split(",")[0] in SEVERITY_FILL:  # "medium, low": the highest
            cell.fill = SEVERITY_FILL[value.split(",")[0]]
    return cell


def _widths(frame: pl.DataFrame, columns: list[Column]) -> list[float]:
    fixed = {"money": 14, "date": 11}
    text = [column.name for column in columns if column.kind not in fixed]
    longest: dict[str, int] = {}
    if frame.height and text:
        # a cell's cleaned text is as long as the text, plus the apostrophe before formula text
        # (measured so, not by cleaning every cell twice: that took a second on 280,000 lines)
        raw = {name: pl.col(name).cast(pl.String) for name in text}
        longest = frame.select(
            (raw[name].str.len_chars() + raw[name].str.contains(FORMULA_START).cast(pl.UInt32)).max().alias(name) for name in text
        ).row(0, named=True)
    widths = []
    for column in columns:
        content = fixed.get(column.kind, 0) if frame.height else 0
        content = max(content, longest.get(column.name) or 0)
        widths.append(min(MAX_WIDTH, max(len(column.header), content) + 2))
    return widths


def _printable(sheet, header_rows: str | None = "1:1") -> None:
    """Printed or exported to PDF: landscape, one page wide, the header on every page."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = "9"  # A4
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    if header_rows:
        sheet.print_title_rows = header_rows


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _style_id(sheet, *, number_format: str | None = None, fill: PatternFill | None = None) -> int:
    """The id openpyxl registers for a cell style, for cells rendered outside openpyxl."""
    cell = WriteOnlyCell(sheet)
    if number_format:
        cell.number_format = number_format
    if fill:
        cell.fill = fill
    return cell.style_id


def _cell_format(sheet, column: Column) -> CellFormat:
    if column.kind == "money":
        return CellFormat(column.name, "money", style=_style_id(sheet, number_format=GBP))
    if column.kind == "date":
        return CellFormat(column.name, "date", style=_style_id(sheet, number_format=DATE))
    if column.kind == "severity":
        styles = tuple((value, _style_id(sheet, fill=fill)) for value, fill in SEVERITY_FILL.items())
        return CellFormat(column.name, "text", value_styles=styles)
    return CellFormat(column.name, column.kind)


def table_sheets(workbook: Workbook, title: str, frame: pl.DataFrame, columns: list[Column]) -> dict[str, Callable[[], Iterator[bytes]]]:
    """A table on as many sheets as Excel's row limit needs: "Transactions", "Transactions (2)", ..."""
    bodies = {}
    for number, start in enumerate(range(0, max(frame.height, 1), MAX_ROWS), start=1):
        name = title if number == 1 else f"{title} ({number})"
        bodies[name] = table_sheet(workbook, name, frame.slice(start, MAX_ROWS), columns)
    return bodies


def table_sheet(workbook: Workbook, title: str, frame: pl.DataFrame, columns: list[Column]) -> Callable[[], Iterator[bytes]]:
    """A sheet holding one table: styled frozen header, autofilter, fitted widths.

    openpyxl writes the header; the returned callable renders the body rows for ``splice``.
    """
    sheet = workbook.create_sheet(title)
    _printable(sheet)
    sheet.freeze_panes = "A2"
    for index, width in enumerate(_widths(frame, columns), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(frame.height, 1) + 1}"
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.header)
        cell.fill, cell.font = HEADER_FILL, HEADER_FONT
        header.append(cell)
    sheet.append(header)
    formats = [_cell_format(sheet, column) for column in columns]
    return partial(render_rows, frame.select([column.name for column in columns]), formats)


FINDING_COLUMNS = [
    Column("recipient_id", "Recipient"), Column("severity", "Severity", "severity"), Column("amount_pence", "Amount", "money"),
    Column("date", "Date", "date"), Column("counterparty", "Counterparty"), Column("transaction_ref", "Reference"),
    Column("source_file", "Source (file:line)"), Column("detail", "Detail"),
]
CLAWBACK_COLUMNS = [
    Column("recipient_id", "Recipient"), Column("recipient_name", "Name"), Column("closing_balance_pence", "Closing balance", "money"),
    Column("contingency_allowed_pence", "Contingency allowed", "money"), Column("committed_pence", "Committed", "money"),
    Column("surplus_pence", "Surplus", "money"), Column("misuse_pence", "Misuse", "money"),
    Column("unevidenced_pence", "Unevidenced", "money"), Column("recommended_recovery_pence", "Recommended recovery", "money"),
]
MONITORING_COLUMNS = [Column("recipient_id", "Recipient"), Column("recipient_name", "Name"), Column("triggers", "Triggers"),
                      Column("detail", "Why")]
REJECTED_COLUMNS = [Column("recipient_id", "Recipient"), Column("source_file", "File"), Column("source_line", "Line", "whole"),
                    Column("column", "Column"), Column("value", "Value"), Column("reason", "Reason")]
PLANS_SHEET = "Plans not read whole"
PLANS_SHEET_LABEL = "Section J plans not read whole"
PLAN_COLUMNS = [Column("recipient_id", "Recipient"), Column("recipient_name", "Name"),
                Column("plan_unread", "Why its spend was not judged against Section J")]
TRANSACTION_COLUMNS = [
    Column("recipient_id", "Recipient"), Column("date", "Date", "date"), Column("signed_pence", "Amount", "money"),
    Column("balance_pence", "Balance", "money"), Column("counterparty", "Counterparty"), Column("description", "Description"),
    Column("account", "Account"), Column("merchant_class", "Merchant class"), Column("evidence_status", "Evidence status"),
    Column("evidence_ref", "Evidence"), Column("reason", "Why"), Column("source_file", "Source (file:line)"),
]


def _summary(workbook: Workbook, *, period: str, version: str, policy_source: str, policy_lines: list[tuple[str, str]],
             findings: pl.DataFrame, clawback: pl.DataFrame, rejections: pl.DataFrame, monitoring: int,
             sheets: dict[str, str]) -> None:
    sheet = workbook.create_sheet("Summary", 0)
    _printable(sheet, header_rows=None)
    for letter, width in zip("ABCDE", (34, 22, 12, 18, 40)):
        sheet.column_dimensions[letter].width = width
    row = 0

    def put(*values, font: Font | None = None, kinds: tuple[str, ...] = ()) -> None:
        nonlocal row
        cells = []
        for index, value in enumerate(values):
            kind = kinds[index] if index < len(kinds) else "text"
            cell = value if isinstance(value, Cell) else _cell(sheet, value, kind)
            if font is not None:
                cell.font = font
            cells.append(cell)
        sheet.append(cells)
        row += 1

    def link(text: str, target: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=text)
        cell.hyperlink = Hyperlink(ref=f"A{row + 1}", location=f"'{target}'!A1", display=text)
        cell.font = LINK_FONT
        return cell

    put(f"Direct payments monitoring: {period}", font=TITLE_FONT)
    put("Produced by", f"dpmon {version}")
    put("Policy", policy_source)
    put("Recipients monitored", clawback.height, kinds=("text", "whole"))
    put(link("Recommended recovery", sheets["Clawback"]), clawback["recommended_recovery_pence"].sum(), kinds=("text", "money"))
    put("Unevidenced (evidence requested)", clawback["unevidenced_pence"].sum(), kinds=("text", "money"))
    # a recipient whose statements give no balance (a Monzo export) cannot be judged for surplus: say how many
    put("Closing balance unknown (surplus not judged)", clawback["closing_balance_pence"].null_count(), kinds=("text", "whole"))
    # a recipient whose plan lost a line (or had none) is not judged against it: say how many, and who
    unread = clawback["plan_unread"].count()
    put(link(PLANS_SHEET_LABEL, sheets[PLANS_SHEET]) if PLANS_SHEET in sheets else PLANS_SHEET_LABEL, unread, kinds=("text", "whole"))
    put("Recipients for enhanced monitoring", monitoring, kinds=("text", "whole"))
    put(link(f"Rejected inputs: {_plural(rejections.filter(pl.col('source_line') <= 0).height, 'file')}, "
             f"{_plural(rejections.filter(pl.col('source_line') > 0).height, 'row')}", sheets["Rejected inputs"]))
    put()
    put("Findings by rule", font=SECTION_FONT)
    put("Rule", "Severity", "Findings", "Amount", font=Font(bold=True))
    amount = pl.when(pl.col("amount_pence").count() > 0).then(pl.col("amount_pence").sum())  # blank for rules without amounts
    by_rule = findings.group_by("rule").agg(pl.len().alias("n"), amount.alias("amount"), pl.col("severity").unique())
    order = {severity: rank for rank, severity in enumerate(SEVERITY_FILL)}
    # a rule's severity, or its findings' several (INPUT_REJECTED is medium for a file, low for a row), highest first
    counts = {rule: (n, amount, ", ".join(sorted(severities, key=order.__getitem__))) for rule, n, amount, severities in by_rule.iter_rows()}
    first_rule_row = row + 1
    for rule in RULES:
        if rule not in counts:
            continue
        n, amount, severity = counts[rule]
        put(link(rule, sheets[rule]), severity, n, amount, kinds=("text", "severity", "whole", "money"))
    last_rule_row = row
    put()
    put("Findings by severity", font=SECTION_FONT)
    put("Severity", "Findings", font=Font(bold=True))  # no amount: a surplus, a debit and net pay do not add up
    by_severity = dict(findings.group_by("severity").len().iter_rows())
    for severity in SEVERITY_FILL:
        put(severity, by_severity.get(severity, 0), kinds=("severity", "whole"))
    put()
    put(link("Largest recommended recovery", sheets["Clawback"]), font=SECTION_FONT)
    put("Recipient", "Name", "Recovery", font=Font(bold=True))
    top = clawback.filter(pl.col("recommended_recovery_pence") > 0).sort(["recommended_recovery_pence", "recipient_id"], descending=[True, False]).head(10)
    first_top_row = row + 1
    for recipient, name, amount in top.select("recipient_id", "recipient_name", "recommended_recovery_pence").iter_rows():
        put(recipient, name, amount, kinds=("text", "text", "money"))
    last_top_row = row
    put()
    put("Policy in force", font=SECTION_FONT)
    for key, value in policy_lines:
        put(key, value)

    if last_rule_row >= first_rule_row:
        chart = BarChart()
        chart.type, chart.title, chart.legend, chart.gapWidth = "bar", "Findings by rule", None, 40
        chart.x_axis.scaling.orientation = "maxMin"  # first rule at the top, as in the table
        chart.add_data(Reference(sheet, min_col=3, min_row=first_rule_row, max_row=last_rule_row), titles_from_data=False)
        chart.set_categories(Reference(sheet, min_col=1, min_row=first_rule_row, max_row=last_rule_row))
        chart.series[0].graphicalProperties.solidFill = "1F4E78"
        chart.height, chart.width = 3 + 0.6 * (last_rule_row - first_rule_row + 1), 18
        sheet.add_chart(chart, "G2")
    if last_top_row >= first_top_row:
        chart = BarChart()
        chart.type, chart.title, chart.legend = "col", "Recommended recovery by recipient (£)", None
        chart.add_data(Reference(sheet, min_col=3, min_row=first_top_row, max_row=last_top_row), titles_from_data=False)
        chart.set_categories(Reference(sheet, min_col=1, min_row=first_top_row, max_row=last_top_row))
        chart.series[0].graphicalProperties.solidFill = "C00000"
        chart.height, chart.width = 8, 18
        sheet.add_chart(chart, "G34")


def _policy_lines(document: dict, prefix: str = "") -> list[tuple[str, str]]:
    lines = []
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            lines.extend(_policy_lines(value, f"{name}."))
        else:
            lines.append((name, ", ".join(map(str, value)) if isinstance(value, list) else str(value)))
    return lines


def write_workbook(
    path: Path,
    *,
    period: str,
    version: str,
    policy_source: str,
    policy_document: dict,
    findings: pl.DataFrame,
    clawback: pl.DataFrame,
    monitoring: pl.DataFrame,
    transactions: pl.DataFrame,
    rejections: pl.DataFrame,
) -> list[str]:
    """Write the workbook; returns its sheet names in order."""
    workbook = Workbook(write_only=True)
    findings = findings.sort(by_source(("recipient_id", "date")), nulls_last=True, maintain_order=True)
    fired = [rule for rule in RULES if rule in set(findings["rule"].to_list())]
    unread = clawback.filter(pl.col("plan_unread").is_not_null())
    sheets = {rule: rule for rule in fired} | {name: name for name in ("Clawback", "Enhanced monitoring", "Rejected inputs", "Transactions")}
    sheets |= {PLANS_SHEET: PLANS_SHEET} if unread.height else {}
    due = clawback.filter((pl.col("recommended_recovery_pence") > 0) | (pl.col("unevidenced_pence") > 0))
    _summary(workbook, period=period, version=version, policy_source=policy_source,
             policy_lines=_policy_lines(policy_document), findings=findings, clawback=clawback, rejections=rejections,
             monitoring=monitoring.height, sheets=sheets)
    bodies: dict[str, Callable[[], Iterator[bytes]]] = {}
    for rule in fired:
        bodies |= table_sheets(workbook, rule, findings.filter(pl.col("rule") == rule), FINDING_COLUMNS)
    bodies |= table_sheets(workbook, "Clawback", due, CLAWBACK_COLUMNS)
    bodies |= table_sheets(workbook, "Enhanced monitoring", monitoring, MONITORING_COLUMNS)
    if unread.height:
        bodies |= table_sheets(workbook, PLANS_SHEET, unread, PLAN_COLUMNS)
    shown = rejections.sort("source_file", "source_line", maintain_order=True).with_columns(
        pl.when(pl.col("source_line") > 0).then(pl.col("source_line")).alias("source_line"))  # a whole file has no line
    bodies |= table_sheets(workbook, "Rejected inputs", shown, REJECTED_COLUMNS)
    bodies |= table_sheets(workbook, "Transactions", transactions.with_columns(pl.col("amount_pence").alias("signed_pence")),
                           TRANSACTION_COLUMNS)
    saved = io.BytesIO()
    workbook.save(saved)
    splice(saved.getvalue(), path, bodies)
    return ["Summary", *bodies]

