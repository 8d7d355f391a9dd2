"""HMRC's VAT number check, on the examples python-stdnum's tests publish (shared/corpus PROVENANCE, appendix B)."""

import polars as pl
import pytest

from pipeline.reconcile.vat_number import is_valid

VALID = ["GB 980 7806 84", "100190874", "242338087388", "GB 002 4257 28", "GB 100 1950 75", "GB102675046",
         "GB 232177091", "GB 311 405 025", "GD100", "HA501", "GD888810003", "HA888856782", "XI 980 7806 84"]
INVALID = ["802311781", "001234567", "9807806842", "9807806B4", "GD8888567B2", "ZZ100", "GD600", "HA201",
           "GD888860018", "HA888820107", "HA888856700", "", "GB"]


def check(numbers):
    return pl.DataFrame({"n": numbers}).select(is_valid(pl.col("n")).alias("v"))["v"].to_list()


def test_valid_numbers_pass():
    assert check(VALID) == [True] * len(VALID)


def test_invalid_numbers_fail():
    assert check(INVALID) == [False] * len(INVALID)


@pytest.mark.parametrize("number", ["980780684", "100190874"])
def test_changing_any_digit_breaks_the_check(number):
    mutated = [number[:i] + str((int(number[i]) + 1) % 10) + number[i + 1:] for i in range(9)]
    assert not any(check(mutated))
