"""The GX suites load whole (GX 1.x drops an invalid expectation with only a log line) and reject what they should."""

from __future__ import annotations

import json

import polars as pl
import pytest

from pipeline import schemas
from pipeline.validate import SUITES_DIR, SuiteError, Validator, load_suite, suite_document

SUITES = sorted(path.stem for path in SUITES_DIR.glob("*.json"))
SCHEMAS = {"agreements": schemas.AGREEMENTS, "provision": schemas.PROVISION, "la_payments": schemas.LA_PAYMENTS,
           "employees": schemas.EMPLOYEES, "receipts": schemas.RECEIPTS, "payslips": schemas.PAYSLIPS,
           "transactions": schemas.TRANSACTIONS}


def test_one_suite_per_validated_frame():
    assert SUITES == sorted(SCHEMAS)


@pytest.mark.parametrize("name", SUITES)
def test_suite_loads_every_expectation_and_names_real_columns(name):
    document = suite_document(name)
    assert len(load_suite(name).expectations) == len(document["expectations"]) > 0
    for expectation in document["expectations"]:
        kwargs = expectation["kwargs"]
        for column in [kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B"), *kwargs.get("column_list", [])]:
            assert column is None or column in SCHEMAS[name], f"{name}: {column}"


def test_a_suite_gx_would_shorten_is_refused(tmp_path, monkeypatch):
    document = suite_document("receipts")
    document["expectations"].append({"type": "expect_column_values_to_be_nul", "kwargs": {"column": "date"}})
    (tmp_path / "receipts.json").write_text(json.dumps(document))
    monkeypatch.setattr("pipeline.validate.SUITES_DIR", tmp_path)
    with pytest.raises(SuiteError, match="lists 7 expectations but Great Expectations loaded 6"):
        load_suite("receipts")


def test_failing_rows_are_rejected_with_the_expectation_named():
    frame = pl.DataFrame(
        [dict(recipient_id="R1", employee_id="E1", employee_name="A", pay_date=None, period_start=None, period_end=None,
              gross_pay_pence=100, tax_pence=0, employee_ni_pence=0, employer_ni_pence=0, employee_pension_pence=0,
              employer_pension_pence=0, net_pay_pence=-5, source_file="payroll/R1/p.csv", source_line=2),
         dict(recipient_id="R1", employee_id="E2", employee_name="B", pay_date=None, period_start=None, period_end=None,
              gross_pay_pence=100, tax_pence=0, employee_ni_pence=0, employer_ni_pence=0, employee_pension_pence=0,
              employer_pension_pence=0, net_pay_pence=100, source_file="payroll/R1/p.csv", source_line=3)],
        schema=schemas.PAYSLIPS,
    ).with_columns(pl.date(2025, 6, 27).alias("pay_date"))
    passed, rejected, result = Validator().validate("payslips", frame)
    assert passed["employee_id"].to_list() == ["E2"]
    assert rejected.select("source_file", "source_line", "column", "value", "reason").rows() == [
        ("payroll/R1/p.csv", 2, "net_pay_pence", "-5",
         "failed check expect_column_values_to_be_between on 'net_pay_pence' (expectations/payslips.json)")
    ]
    assert result.failed == [{"expectation": "expect_column_values_to_be_between", "column": "net_pay_pence", "rows": 1}]
