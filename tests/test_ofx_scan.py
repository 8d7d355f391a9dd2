"""The OFX scan and ofxparse agree on every OFX file we have: the scan is only ever a faster ofxparse."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.ingest.ofx import parse_ofx
from pipeline.ingest.text import UnreadableFile
from pipeline.synthetic import ANOMALIES, generate
from tests.conftest import CORPUS, DATA


def outcome(data: bytes, fast: bool):
    try:
        read = parse_ofx(data, "f.ofx", "R1", fast=fast)
    except UnreadableFile as exc:
        return ("rejected", str(exc))
    return (read.lines, read.statements, read.rejections, read.rows_read)


def ofx_files() -> list[Path]:
    ours = sorted(path for path in (DATA / "statements").iterdir() if path.suffix in (".ofx", ".qfx"))
    theirs = sorted(path for path in CORPUS.rglob("*") if path.suffix.lower() in (".ofx", ".qfx")) if CORPUS.is_dir() else []
    return ours + theirs


@pytest.mark.parametrize("path", ofx_files(), ids=lambda path: path.name)
def test_scan_agrees_with_ofxparse(path):
    assert outcome(path.read_bytes(), fast=True) == outcome(path.read_bytes(), fast=False)


def test_scan_agrees_on_a_generated_council(tmp_path):
    generate(tmp_path, "2025-06", recipients=40, anomalies=list(ANOMALIES), purchases=4)
    files = [path for path in tmp_path.rglob("*") if path.suffix in (".ofx", ".qfx")]
    assert len(files) >= 10
    for path in files:
        assert outcome(path.read_bytes(), fast=True) == outcome(path.read_bytes(), fast=False), path.name
