"""Every third-party statement-like file in shared/corpus: parsed to the recorded rows, or rejected with a reason.

The recorded outcomes (tests/golden/corpus_outcomes.json) were read by eye once;
a change to any of them shows up here as a diff.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.ingest.statements import read_statement
from pipeline.ingest.text import UnreadableFile
from tests.conftest import GOLDEN, check_golden

SUFFIXES = {".ofx", ".qfx", ".csv", ".txt", ".sta", ".xml", ".qif", ".940", ".mt940"}


def outcome(path: Path, corpus: Path) -> dict:
    source = path.relative_to(corpus).as_posix()
    as_statement = path.with_suffix(".csv") if path.suffix.lower() not in {".ofx", ".qfx", ".csv"} else path
    try:
        read = read_statement(as_statement, path.read_bytes(), source, "R1")
    except UnreadableFile as exc:
        return {"status": "rejected", "reason": str(exc)[:160]}
    rejected = sorted({line for line in read.rejections["source_line"].to_list()})
    return {"status": "read", "layout": read.layout, "rows_read": read.rows_read, "lines": read.lines.height,
            "rejected_lines": rejected, "statements": read.statements.height}


def test_corpus_outcomes(corpus, regen):
    files = sorted(path for path in corpus.rglob("*") if path.is_file() and path.suffix.lower() in SUFFIXES)
    assert len(files) > 100
    outcomes = {path.relative_to(corpus).as_posix(): outcome(path, corpus) for path in files}
    check_golden(GOLDEN / "corpus_outcomes.json", json.dumps(outcomes, indent=1, sort_keys=True) + "\n", regen)
    for name, result in outcomes.items():  # every row read is used or rejected, and no corpus file rejects two rows of one line
        if result["status"] == "read":
            assert result["rows_read"] == result["lines"] + len(result["rejected_lines"]), name
