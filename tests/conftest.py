"""Shared fixtures: offline Prefect settings, the corpus folder, a generated council."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows import settings

settings.apply(quiet=True)

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
GOLDEN = Path(__file__).with_name("golden")
DATA = Path(__file__).with_name("data")


def pytest_addoption(parser):
    parser.addoption("--regen-golden", action="store_true", help="rewrite golden files from current output")


@pytest.fixture
def regen(request) -> bool:
    return request.config.getoption("--regen-golden")


def check_golden(golden: Path, text: str, regen: bool) -> None:
    """``text`` must equal the reviewed golden file. ``--regen-golden`` rewrites it and fails the test, so that
    a golden file is never made and passed in one go: the diff is reviewed, then the tests run again."""
    if regen:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
        pytest.fail(f"{golden} rewritten: review the diff, then run the tests again without --regen-golden")
    if not golden.exists():
        pytest.fail(f"no golden file {golden}: write it with --regen-golden and review it")
    assert text == golden.read_text(), f"output differs from {golden}; rerun with --regen-golden and review the diff"


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"third-party corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield
