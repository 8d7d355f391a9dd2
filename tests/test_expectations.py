"""The GX suites load whole (GX 1.x drops an invalid expectation with only a log line) and reject what they should."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from pipeline import schemas
from pipeline.validate import SUITES_DIR, SuiteError, Validator, load_suite, suite_document

ROOT = Path(__file__).resolve().parents[1]
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


def test_suites_allow_the_values_the_readers_declare():
    """Sets and id patterns are declared twice, for typing and for the data docs: a value added to one only
    would be rejected by the other with a puzzling reason."""
    from pipeline.ingest import records
    from pipeline.ingest.columns import RECIPIENT_ID_RE

    declared = {kind.name if kind.name != "payroll" else "payslips": {column.target: column for column in kind.columns}
                for kind in (*records.COUNCIL_TABLES, records.RECEIPTS, records.PAYSLIPS)}
    checked = 0
    for name in SUITES:
        for expectation in suite_document(name)["expectations"]:
            kwargs = expectation["kwargs"]
            if "value_set" in kwargs:
                assert set(kwargs["value_set"]) == set(declared[name][kwargs["column"]].choices), (name, kwargs["column"])
                checked += 1
            elif kwargs.get("column") == "recipient_id" and "regex" in kwargs:
                assert kwargs["regex"] == RECIPIENT_ID_RE, name
                checked += 1
    assert checked >= 9


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
        ("payroll/R1/p.csv", 2, "net_pay", "-0.05",
         "column 'net_pay': '-0.05' is not from 0.00 to 1,000,000,000.00 (check expect_column_values_to_be_between in "
         "expectations/payslips.json)")
    ]
    assert result.failed == [{"expectation": "expect_column_values_to_be_between", "column": "net_pay_pence", "rows": 1}]


def test_a_rejection_says_in_words_what_the_check_found():
    """Named as the input names the column, with the cell as it was written, then the check that found it."""
    import datetime as dt

    agreements = pl.DataFrame(
        [dict(recipient_id="R1", recipient_name="A", mechanism="direct", start_date=dt.date(2025, 1, 1), end_date=dt.date(2024, 1, 1),
              payment_amount_pence=100, payment_frequency="monthly", contingency_weeks_x100=9900, first_payment_date=dt.date(2025, 1, 1),
              source_file="agreements.csv", source_line=2)], schema=schemas.AGREEMENTS)
    provision = pl.DataFrame(
        [dict(recipient_id="R1", line_id="L1", category="other", amount_pence=100, per="week", source_file="provision.csv", source_line=line)
         for line in (2, 3)], schema=schemas.PROVISION)
    _, rejected, _ = Validator().validate("agreements", agreements)
    _, repeated, _ = Validator().validate("provision", provision)
    assert pl.concat([rejected, repeated]).select("source_line", "column", "reason").rows() == [
        (2, "contingency_weeks", "column 'contingency_weeks': '99.00' is not from 0.00 to 52.00 "
                                 "(check expect_column_values_to_be_between in expectations/agreements.json)"),
        (2, "end_date", "column 'end_date': '2024-01-01' is before start_date "
                        "(check expect_column_pair_values_a_to_be_greater_than_b in expectations/agreements.json)"),
        (2, "recipient_id, line_id", "column 'recipient_id, line_id': repeats another row's recipient_id and line_id "
                                     "(check expect_compound_columns_to_be_unique in expectations/provision.json)"),
        (3, "recipient_id, line_id", "column 'recipient_id, line_id': repeats another row's recipient_id and line_id "
                                     "(check expect_compound_columns_to_be_unique in expectations/provision.json)"),
    ]


def _payslips(count: int) -> pl.DataFrame:
    """Payslips with failures spread over the rows: negative net pay, missing pay dates, periods ending before they start."""
    import datetime as dt

    return pl.DataFrame(
        [dict(recipient_id=f"R{index % 7}", employee_id=f"E{index}", employee_name="A",
              pay_date=None if index % 11 == 3 else dt.date(2025, 6, 27),
              period_start=dt.date(2025, 6, 1), period_end=dt.date(2025, 5, 1) if index % 13 == 5 else dt.date(2025, 6, 30),
              gross_pay_pence=100, tax_pence=0, employee_ni_pence=0, employer_ni_pence=0, employee_pension_pence=0,
              employer_pension_pence=0, net_pay_pence=-(index % 5) if index % 4 == 1 else 100,
              source_file=f"payroll/R{index % 7}/p.csv", source_line=index + 2)
         for index in range(count)],
        schema=schemas.PAYSLIPS,
    )


def _comparable(document: dict) -> dict:
    """What the data docs show of a result, ordered so two equal results compare equal."""
    results = {}
    for item in document["results"]:
        result = dict(item["result"])
        if "partial_unexpected_counts" in result:
            result["partial_unexpected_counts"] = sorted(result["partial_unexpected_counts"], key=lambda entry: (-entry["count"], str(entry["value"])))
        key = json.dumps([item["expectation_config"]["type"], {k: v for k, v in item["expectation_config"]["kwargs"].items() if k != "batch_id"}], sort_keys=True)
        results[key] = (item["success"], result)
    return {"success": document["success"], "statistics": document["statistics"], "results": results}


def test_shards_results_merged_are_the_whole_frames_result():
    from pipeline.validate import merge_results

    frame = _payslips(60)
    whole_passed, whole_rejected, whole = Validator().validate("payslips", frame)
    shards = Validator()  # one context for every shard, as a worker keeps
    outcomes = [shards.validate("payslips", part) for part in (frame.slice(0, 25), frame.slice(25, 20), frame.slice(45))]
    merged = merge_results([result for _, _, result in outcomes])

    assert whole.failed and merged.rows == whole.rows == 60
    assert merged.failed == sorted(whole.failed, key=lambda failure: (failure["expectation"], failure["column"]))
    assert _comparable(merged.document) == _comparable(whole.document)
    assert pl.concat([passed for passed, _, _ in outcomes]).equals(whole_passed)
    shard_rejected = pl.concat([rejected for _, rejected, _ in outcomes])
    assert sorted(shard_rejected.rows()) == sorted(whole_rejected.rows())


def test_merged_results_reach_the_data_docs(tmp_path):
    from pipeline.validate import merge_results

    frame = _payslips(40)
    shards = Validator()
    merged = merge_results([shards.validate("payslips", part)[2] for part in (frame.slice(0, 20), frame.slice(20))])
    docs = Validator(tmp_path / "docs")
    docs.record(merged)
    index = docs.build_docs()
    pages = list((tmp_path / "docs" / "validations" / "payslips").rglob("*.html"))
    assert index.is_file() and len(pages) == 1
    unexpected = {item["expectation_config"]["type"]: item["result"]["unexpected_count"] for item in merged.document["results"]
                  if not item["success"]}
    assert unexpected["expect_column_values_to_be_between"] == 8  # rows 1, 5, 9 ... 37 less the two with net pay -0 (5, 25)
    assert "payslips" in index.read_text()


def test_values_quoted_in_the_data_docs_are_text_not_markup(tmp_path):
    """A provision line id written as markup, twice (a duplicate): the docs quote it, escaped."""
    markup = "<img src=x onerror=alert(document.domain)>"
    frame = pl.DataFrame(
        [dict(recipient_id="R1", line_id=markup, category="<b>equipment</b>", description="d", amount_pence=100, per="month",
              funding_stream="education", costed_vat="inclusive", source_file="provision.csv", source_line=line)
         for line in (2, 3)],
        schema=schemas.PROVISION,
    )
    _, rejected, result = Validator().validate("provision", frame)
    assert "<b>equipment</b>" in set(rejected["value"])  # the rejections (CSV, workbook) keep the text itself
    docs = Validator(tmp_path / "docs")
    docs.record(result)
    docs.build_docs()
    pages = "".join(path.read_text() for path in (tmp_path / "docs").rglob("*.html"))
    assert "provision" in pages and markup not in pages and "<b>equipment" not in pages
    assert "&lt;b&gt;equipment" in pages


def test_scipy_stats_runs_only_when_an_expectation_needs_it(tmp_path):
    """GX's import defers scipy.stats (no suite compares distributions); a validation with data docs never loads it,
    and it still works when something does use it."""
    script = """
import math, sys
from pathlib import Path
from pipeline.ingest.inbound import discover
from pipeline.ingest.load import read_files
from pipeline.validate import COUNCIL_FRAMES, RECIPIENT_FRAMES, Validator, validate_frames

batch = read_files(discover(Path("inbound")).files)
validator = Validator(Path(sys.argv[1]))
names = (*COUNCIL_FRAMES, *RECIPIENT_FRAMES)
frames, rejected, results = validate_frames(validator, {name: batch.frame(name) for name in names}, names)
validator.build_docs()
assert all(result.rows for result in results), [(result.frame, result.rows) for result in results]
assert "scipy.stats._stats_py" not in sys.modules
assert math.isclose(sys.modules["scipy.stats"].entropy([0.5, 0.5]), math.log(2))
assert "scipy.stats._stats_py" in sys.modules
"""
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "docs")], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "docs" / "index.html").is_file()


def test_account_numbers_quoted_in_the_data_docs_show_four_digits(tmp_path):
    """A repeated provision line id holding an account number: the docs quote it by its last four digits."""
    frame = pl.DataFrame(
        [dict(recipient_id="R1", line_id="acct 99745048", category="equipment", description="d", amount_pence=100, per="month",
              funding_stream="education", costed_vat="inclusive", source_file="provision.csv", source_line=line)
         for line in (2, 3)],
        schema=schemas.PROVISION,
    )
    docs = Validator(tmp_path / "docs")
    docs.record(Validator().validate("provision", frame)[2])
    docs.build_docs()
    pages = "".join(path.read_text() for path in (tmp_path / "docs").rglob("*.html"))
    assert "99745048" not in pages and "acct ****5048" in pages


def test_a_negative_vat_is_rejected_and_an_agreement_of_one_day_is_not():
    from datetime import date

    from tests.builders import Council

    case = Council().agreement(start_date=date(2025, 6, 1), end_date=date(2025, 6, 1))
    case.agreement(recipient_id="R2", start_date=date(2025, 6, 2), end_date=date(2025, 6, 1))
    case.receipt("2025-06-05", 1000, net_pence=1100, vat_pence=-100).receipt("2025-06-05", 1200, net_pence=1000, vat_pence=200)
    frames = case.frames()
    agreements, rejected, _ = Validator().validate("agreements", frames["agreements"])
    assert agreements["recipient_id"].to_list() == ["R1"]  # ends the day it starts: one day long
    assert rejected.select("source_line", "column").rows() == [(3, "end_date")]
    receipts, rejected, _ = Validator().validate("receipts", frames["receipts"])
    assert receipts["receipt_id"].to_list() == ["RC2"]
    assert rejected.select("source_line", "column").rows() == [(2, "vat")]
