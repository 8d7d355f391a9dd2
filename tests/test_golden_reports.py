"""Golden files for the reports: the committed sample council (``inbound/``, where every rule fires) run
through the flow, and each output compared with its reviewed copy in ``tests/golden/sample/``.

The CSVs are compared byte for byte; the workbook and the letters as text an auditor would read (every
sheet's cells with their number formats and links; every letter's paragraphs and tables), with the letters'
issue and reply-by dates, which are the run's own, written as placeholders. ``--regen-golden`` rewrites them.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import docx
from docx.table import Table
import pytest
from openpyxl import load_workbook

from pipeline.policy import load_policy
from tests.conftest import GOLDEN, ROOT, check_golden

PERIOD = "2025-06"
SAMPLE = GOLDEN / "sample"
CSV_OUTPUTS = ("exceptions.csv", "clawback.csv", "enhanced_monitoring.csv", "transactions.csv")
FORMAT_NAMES = {'"£"#,##0.00;[Red]-"£"#,##0.00': "£", "dd/mm/yyyy": "date"}  # any other format is shown as it is


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, prefect_harness) -> Path:
    from flows.reconciliation import monthly_reconciliation

    outbound = tmp_path_factory.mktemp("sample")
    monthly_reconciliation(period=PERIOD, inbound=str(ROOT / "inbound"), outbound=str(outbound))
    return outbound / PERIOD


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, (float, Decimal)):
        return f"{Decimal(str(value)).normalize():f}"
    return str(value).replace("\n", "\\n")


def workbook_text(path: Path) -> str:
    book = load_workbook(path)
    lines = []
    for sheet in book.worksheets:
        lines.append(f"## {sheet.title} (freeze {sheet.freeze_panes}, filter {sheet.auto_filter.ref}, "
                     f"{len(sheet._charts)} chart(s))")
        for row in sheet.iter_rows():
            cells = []
            for cell in row:
                text = _cell_text(cell.value)
                if text and cell.number_format != "General":
                    text += f" [{FORMAT_NAMES.get(cell.number_format, cell.number_format)}]"
                if cell.hyperlink is not None:
                    text += f" -> {cell.hyperlink.location or cell.hyperlink.target}"
                cells.append(text)
            while cells and not cells[-1]:
                cells.pop()
            if cells:
                lines.append(" | ".join(cells))
    return "\n".join(lines) + "\n"


def notices_text(folder: Path, issued: date, days: int) -> str:
    """Every letter's text, its issue and reply-by dates (the run's day and that plus ``days``) as placeholders."""
    reply_by = issued + timedelta(days=days)
    dates = {f"{issued.day} {issued:%B %Y}": "<issued>", f"{reply_by.day} {reply_by:%B %Y}": "<reply by>"}  # as letters write them
    lines = []
    for path in sorted(folder.glob("*.docx")):
        letter = docx.Document(str(path))
        lines.append(f"## {path.name}")
        for block in letter.iter_inner_content():  # paragraphs and tables in the letter's order
            if isinstance(block, Table):
                lines.extend(" | ".join(cell.text for cell in row.cells) for row in block.rows)
            else:
                lines.append(block.text)
    text = "\n".join(lines) + "\n"
    for written, placeholder in dates.items():
        text = text.replace(written, placeholder)
    return text


@pytest.mark.parametrize("name", CSV_OUTPUTS)
def test_csv_outputs_are_the_reviewed_ones(sample_run, name, regen):
    check_golden(SAMPLE / name, (sample_run / name).read_text(encoding="utf-8"), regen)


def test_workbook_is_the_reviewed_one(sample_run, regen):
    check_golden(SAMPLE / "exceptions.xlsx.txt", workbook_text(sample_run / "exceptions.xlsx"), regen)


def test_notices_are_the_reviewed_ones(sample_run, regen):
    days = load_policy(None).notice_days
    check_golden(SAMPLE / "notices.txt", notices_text(sample_run / "notices", date.today(), days), regen)


def test_manifest_is_the_reviewed_one(sample_run, regen):
    """All but what differs from run to run: timings, the inbound folder's path, and the digests of the
    workbook, letters and data docs (which carry the time they were made)."""
    manifest = json.loads((sample_run / "manifest.json").read_text())
    assert set(manifest["timings_seconds"]) >= {"discover", "shards", "reports", "total"}
    manifest.pop("timings_seconds")
    manifest["inbound"] = Path(manifest["inbound"]).name
    for entry in manifest["outputs"]:
        if not entry["file"].endswith(".csv"):
            entry.pop("sha256", None)
            entry.pop("bytes", None)
            entry.pop("files", None)
    check_golden(SAMPLE / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True) + "\n", regen)
