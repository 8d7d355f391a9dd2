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
