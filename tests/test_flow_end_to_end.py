"""The whole flow under Prefect on a generated council: every planted anomaly found, nothing else."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.synthetic import ANOMALIES, generate

PERIOD = "2025-06"
CSV_OUTPUTS = ("exceptions.csv", "clawback.csv", "enhanced_monitoring.csv", "transactions.csv")


@pytest.fixture(scope="module")
def planted(tmp_path_factory, prefect_harness):
    from flows.reconciliation import monthly_reconciliation

    root = tmp_path_factory.mktemp("council")
    truth = generate(root / "inbound", PERIOD, recipients=len(ANOMALIES) + 8, anomalies=list(ANOMALIES))
    summary = monthly_reconciliation(period=PERIOD, inbound=str(root / "inbound"), outbound=str(root / "outbound"))
    return root, truth, summary


def rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_planted_anomaly_is_found_and_nothing_else(planted):
    root, truth, _ = planted
    found = {(row["recipient_id"], row["rule"]) for row in rows(root / "outbound" / PERIOD / "exceptions.csv")}
    expected = {(rid, rule) for rid, rules in truth.items() for rule in rules}
    hits = found & expected
    precision, recall = len(hits) / max(len(found), 1), len(hits) / len(expected)
    print(f"\nplanted {len(expected)} (recipient, rule) pairs over {len(truth)} recipients: "
          f"precision {precision:.3f}, recall {recall:.3f}")
    assert expected - found == set(), "missed"
    assert found - expected == set(), "false findings"
    assert {rule for _, rule in found} == set(ANOMALIES)


# amounts the generator plants (pipeline.synthetic.Council.plant), in pounds as exceptions.csv writes them
PLANTED_AMOUNTS = {
    "PROHIBITED_SPEND": "45.00", "SPEND_NOT_IN_PLAN": "56.20", "CASH_WITHDRAWAL_UNEVIDENCED": "100.00",
    "TRANSACTION_UNEVIDENCED": "89.99", "SPEND_OUTSIDE_AGREEMENT": "25.00",
    "PROVISION_OVERSPEND": "200.00",  # two £300 purchases against a one-off £400 line
    "VAT_ON_EXEMPT_SUPPLY": "10.00", "VAT_RELIEF_MISSED": "40.00",  # a sixth of £60 and of £240
}
BANK_LINE_RULES = ("PROHIBITED_SPEND", "SPEND_NOT_IN_PLAN", "CASH_WITHDRAWAL_UNEVIDENCED", "TRANSACTION_UNEVIDENCED",
                   "SPEND_OUTSIDE_AGREEMENT")
# the column of the cited row that is the finding's amount
CITED_AMOUNT = {
    "LA_PAYMENT_NOT_RECEIVED": "amount", "PAYROLL_UNMATCHED": "net_pay", "EMPLOYEE_NO_DBS": "net_pay",
    "DUPLICATE_RECEIPT": "gross", "VAT_NUMBER_INVALID": "vat", "VAT_NUMBER_MISSING": "vat", "VAT_ARITHMETIC": "vat",
    "VAT_ON_EXEMPT_SUPPLY": "vat", "VAT_RELIEF_MISSED": "vat", "VAT_COSTING_SHORTFALL": "vat",
}
WEEKS_A_PAYMENT = {"weekly": Decimal(1), "fortnightly": Decimal(2), "four_weekly": Decimal(4), "monthly": Decimal(52) / 12}


def cited_lines(inbound: Path, citation: str) -> list[str]:
    """The text a ``file:line`` citation points at: the line, or for OFX the transaction it opens."""
    name, _, line = citation.rpartition(":")
    lines = (inbound / name).read_text(encoding="latin-1").splitlines()[int(line) - 1:]
    if not name.endswith((".ofx", ".qfx")):
        return lines[:1]
    end = next((index for index, text in enumerate(lines[1:], 1) if "<STMTTRN>" in text), len(lines))
    return lines[:end]


def cited_row(inbound: Path, citation: str) -> dict[str, str]:
    """The CSV row a ``file:line`` citation points at, by its header's names."""
    name, _, line = citation.rpartition(":")
    lines = (inbound / name).read_text().splitlines()
    return dict(zip(next(csv.reader(lines[:1])), next(csv.reader([lines[int(line) - 1]]))))


def test_planted_amounts_are_what_their_inputs_make_them(planted):
    """Each finding's amount is the planted one, or the amount column of the row it cites; the clawback adds them up."""
    root, truth, _ = planted
    inbound, folder = root / "inbound", root / "outbound" / PERIOD
    findings = rows(folder / "exceptions.csv")
    recipient_of = {anomaly: rid for rid, rules in truth.items() for anomaly, fired in ANOMALIES.items() if rules == fired}

    def amounts(anomaly: str, rule: str | None = None) -> list[str]:
        return sorted(row["amount"] for row in findings if (row["recipient_id"], row["rule"]) == (recipient_of[anomaly], rule or anomaly))

    for anomaly, amount in PLANTED_AMOUNTS.items():
        assert amount in amounts(anomaly), anomaly
    for row in findings:
        if row["rule"] in BANK_LINE_RULES:
            amount = re.compile(rf"(?<![0-9.]){re.escape(row['amount'])}(?![0-9])")  # 45.00, not 145.00
            assert any(amount.search(text) for text in cited_lines(inbound, row["source_file"])), row
        if row["rule"] in CITED_AMOUNT:
            cited = cited_row(inbound, row["source_file"])
            assert cited.get("recipient_id", row["recipient_id"]) == row["recipient_id"], row
            assert Decimal(cited[CITED_AMOUNT[row["rule"]]]) == Decimal(row["amount"]), row
    assert len(amounts("VAT_COSTING_SHORTFALL")) > 1  # the line costed exclusive makes every VAT on it short, not only the planted

    agreement = next(row for row in rows(inbound / "agreements.csv") if row["recipient_id"] == recipient_of["SURPLUS_ABOVE_CONTINGENCY"])
    clawback = {row["recipient_id"]: row for row in rows(folder / "clawback.csv")}
    claw = clawback[agreement["recipient_id"]]
    contingency = (Decimal(agreement["contingency_weeks"] or 8) * Decimal(agreement["payment_amount"])
                   / WEEKS_A_PAYMENT[agreement["payment_frequency"]]).quantize(Decimal("0.01"))
    payslips = [row for row in rows(inbound / "payroll" / agreement["recipient_id"] / "payslips.csv") if row["pay_date"].startswith(PERIOD)]
    committed = sum(Decimal(row[name]) for row in payslips
                    for name in ("tax", "employee_ni", "employer_ni", "employee_pension", "employer_pension"))
    assert (Decimal(claw["contingency_allowed"]), Decimal(claw["committed"])) == (contingency, committed) != (0, 0)
    surplus = Decimal(claw["closing_balance"]) - contingency - committed
    assert amounts("SURPLUS_ABOVE_CONTINGENCY") == [claw["surplus"]] == [f"{surplus:.2f}"]
    assert surplus > 50

    by_rule: dict[tuple[str, str], Decimal] = {}
    for row in findings:
        if row["amount"]:
            key = (row["recipient_id"], row["rule"])
            by_rule[key] = by_rule.get(key, Decimal(0)) + Decimal(row["amount"])
    # misuse sums distinct debits (README): equal to the findings' sums because no planted debit is hit by two rules
    for rid, row in clawback.items():
        def total(*rules: str) -> Decimal:
            return sum((by_rule.get((rid, rule), Decimal(0)) for rule in rules), Decimal(0))
        assert Decimal(row["misuse"]) == total("PROHIBITED_SPEND", "SPEND_NOT_IN_PLAN", "SPEND_OUTSIDE_AGREEMENT"), rid
        assert Decimal(row["unevidenced"]) == total("TRANSACTION_UNEVIDENCED", "CASH_WITHDRAWAL_UNEVIDENCED"), rid
        assert Decimal(row["surplus"]) == total("SURPLUS_ABOVE_CONTINGENCY"), rid
    assert {recipient_of[anomaly] for anomaly in ("PROHIBITED_SPEND", "TRANSACTION_UNEVIDENCED", "SURPLUS_ABOVE_CONTINGENCY")} <= set(clawback)


def test_outputs_have_the_contract_columns(planted):
    root, _, _ = planted
    folder = root / "outbound" / PERIOD
    headers = {name: (folder / name).read_text().splitlines()[0] for name in CSV_OUTPUTS}
    assert headers["exceptions.csv"] == "period,recipient_id,rule,severity,amount,date,counterparty,transaction_ref,source_file,detail"
    assert headers["clawback.csv"] == ("period,recipient_id,recipient_name,closing_balance,contingency_allowed,committed,surplus,"
                                       "misuse,unevidenced,recommended_recovery")
    assert headers["enhanced_monitoring.csv"] == "period,recipient_id,recipient_name,triggers,detail"
    findings = rows(folder / "exceptions.csv")
    assert findings
    for row in findings:
        assert row["severity"] in {"high", "medium", "low"}
        assert row["amount"] == "" or (row["amount"].count(".") == 1 and len(row["amount"].split(".")[1]) == 2 and not row["amount"].startswith("-"))
    claw = {row["recipient_id"]: row for row in rows(folder / "clawback.csv")}
    assert claw
    for row in claw.values():
        assert Decimal(row["recommended_recovery"]) == Decimal(row["surplus"]) + Decimal(row["misuse"])
    monitoring = rows(folder / "enhanced_monitoring.csv")
    assert monitoring  # the order of several triggers is tested in test_rules
    assert all(row["triggers"] == ";".join(sorted(row["triggers"].split(";"))) for row in monitoring)


def test_manifest_adds_up_and_lists_every_input(planted):
    root, _, _ = planted
    inbound = root / "inbound"
    manifest = json.loads((root / "outbound" / PERIOD / "manifest.json").read_text())
    listed = {entry["source_file"]: entry for entry in manifest["inputs"]}
    on_disk = {path.relative_to(inbound).as_posix() for path in inbound.rglob("*") if path.is_file()}
    assert on_disk == set(listed)
    reported: dict[str, set[str]] = {}  # the lines of each file that exceptions.csv reports rejected ("" for the whole file)
    for row in rows(root / "outbound" / PERIOD / "exceptions.csv"):
        if row["rule"] == "INPUT_REJECTED":
            name, colon, line = row["source_file"].rpartition(":")
            reported.setdefault(name if colon else line, set()).add(line if colon else "")
    assert any(entry["rows_rejected"] for entry in listed.values()), "the planted council should have rejected rows"
    for name, entry in listed.items():
        assert entry["rows_read"] == entry["rows_used"] + entry["rows_rejected"], name
        if entry["status"] == "rejected":
            assert (entry["rows_used"], reported.get(name)) == (0, {""}), name
        else:
            assert entry["rows_rejected"] == len(reported.get(name, ())), name
        if entry["sha256"]:
            assert entry["sha256"] == hashlib.sha256((inbound / name).read_bytes()).hexdigest()
    totals = manifest["input_totals"]
    assert totals["rows_read"] == totals["rows_used"] + totals["rows_rejected"] > 0
    assert {output["file"] for output in manifest["outputs"]} >= set(CSV_OUTPUTS)
    assert manifest["policy"]["values"]["matching"]["date_window_days"] == 7


def test_rerun_is_byte_identical(planted):
    from flows.reconciliation import monthly_reconciliation

    root, _, _ = planted
    first = {name: (root / "outbound" / PERIOD / name).read_bytes() for name in CSV_OUTPUTS}
    monthly_reconciliation(period=PERIOD, inbound=str(root / "inbound"), outbound=str(root / "outbound"))
    second = {name: (root / "outbound" / PERIOD / name).read_bytes() for name in CSV_OUTPUTS}
    assert first == second
    assert not list((root / "outbound").glob(".*")), "staging folders or locks left behind"


def test_reconciling_a_few_recipients_at_a_time_writes_the_same_outputs(planted, tmp_path):
    from flows import reconciliation

    root, _, whole_summary = planted
    summary = reconciliation.monthly_reconciliation(period=PERIOD, inbound=str(root / "inbound"), outbound=str(tmp_path),
                                                    shard_recipients=4)  # 31 recipients in 8 shards
    for name in (*CSV_OUTPUTS, "notices"):
        whole, parts = root / "outbound" / PERIOD / name, tmp_path / PERIOD / name
        if name == "notices":
            assert sorted(p.name for p in parts.iterdir()) == sorted(p.name for p in whole.iterdir())
        else:
            assert parts.read_bytes() == whole.read_bytes(), name
    assert (summary.recipients, summary.findings_by_rule) == (whole_summary.recipients, whole_summary.findings_by_rule)
    whole_manifest, parts_manifest = (json.loads((folder / PERIOD / "manifest.json").read_text()) for folder in (root / "outbound", tmp_path))
    for key in ("validation", "input_totals", "inputs"):  # the shards' validation adds up to the whole's
        assert parts_manifest[key] == whole_manifest[key], key


def test_run_publishes_reports_docs_and_artifacts(planted):
    from prefect.artifacts import Artifact

    root, truth, summary = planted
    folder = root / "outbound" / PERIOD
    assert (folder / "exceptions.xlsx").stat().st_size > 0
    assert (folder / "data_docs" / "index.html").is_file()
    notices = sorted(path.stem for path in (folder / "notices").glob("*.docx"))
    recovering = sorted(row["recipient_id"] for row in rows(folder / "clawback.csv"))
    assert recovering and notices == recovering
    markdown = Artifact.get(f"dpmon-{PERIOD}-summary")
    assert markdown.type == "markdown" and f"# dpmon {PERIOD}" in markdown.data
    table = json.loads(Artifact.get(f"dpmon-{PERIOD}-findings").data)
    assert {row["rule"] for row in table} == set(summary.findings_by_rule) == set(ANOMALIES)
    amounts = {row["rule"]: row["amount"] for row in table}
    assert amounts["REVIEW_OVERDUE"] == amounts["STATEMENT_MISSING"] == ""  # rules without amounts show none, not 0.00
    assert amounts["PROHIBITED_SPEND"].startswith("£")
    assert f"{summary.recipients:,} recipients monitored; {summary.files_read:,} files, " in markdown.data


def test_clean_council_has_no_findings(tmp_path, prefect_harness):
    from flows.reconciliation import monthly_reconciliation

    generate(tmp_path / "inbound", PERIOD, recipients=len(ANOMALIES), anomalies=[])
    summary = monthly_reconciliation(period=PERIOD, inbound=str(tmp_path / "inbound"), outbound=str(tmp_path / "outbound"))
    assert summary.findings_by_rule == {}
    assert rows(tmp_path / "outbound" / PERIOD / "exceptions.csv") == []
    assert rows(tmp_path / "outbound" / PERIOD / "clawback.csv") == []


def test_rows_pasted_twice_change_nothing_but_say_so(tmp_path, prefect_harness):
    """An agreement and a council payment each pasted in twice: the same findings and recovery as without,
    plus one high INPUT_REJECTED row for the agreement and a medium one for the payment."""
    from flows.reconciliation import monthly_reconciliation

    generate(tmp_path / "inbound", PERIOD, recipients=6, anomalies=["SURPLUS_ABOVE_CONTINGENCY"])
    clean = monthly_reconciliation(period=PERIOD, inbound=str(tmp_path / "inbound"), outbound=str(tmp_path / "clean"))
    for name in ("agreements.csv", "la_payments.csv"):
        table = tmp_path / "inbound" / name
        lines = table.read_text().splitlines(keepends=True)
        table.write_text("".join(lines) + lines[1])
    pasted = monthly_reconciliation(period=PERIOD, inbound=str(tmp_path / "inbound"), outbound=str(tmp_path / "pasted"))
    assert (tmp_path / "pasted" / PERIOD / "clawback.csv").read_bytes() == (tmp_path / "clean" / PERIOD / "clawback.csv").read_bytes()
    before, after = (rows(tmp_path / folder / PERIOD / "exceptions.csv") for folder in ("clean", "pasted"))
    added = [row for row in after if row not in before]
    assert [row for row in after if row in before] == before
    assert sorted((row["rule"], row["severity"], row["source_file"].split(":")[0]) for row in added) == [
        ("INPUT_REJECTED", "low", "agreements.csv"), ("INPUT_REJECTED", "low", "la_payments.csv")]
    assert pasted.recovery_pence == clean.recovery_pence and pasted.enhanced_monitoring == clean.enhanced_monitoring


@pytest.mark.parametrize(("column", "value"), [("payment_amount", "abc"), ("end_date", "2001-01-01")])
def test_a_rejected_agreement_leaves_its_recipients_files_unread_and_says_why(tmp_path, prefect_harness, column, value):
    """An agreement row rejected when typed (not money) or by Great Expectations (ending before it starts):
    its recipient is not monitored, and each of its files and council rows is rejected naming that row."""
    from flows.reconciliation import monthly_reconciliation

    generate(tmp_path / "inbound", PERIOD, recipients=3)
    table = tmp_path / "inbound" / "agreements.csv"
    agreements = rows(table)
    agreements[1][column] = value
    with table.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(agreements[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(agreements)
    rid = agreements[1]["recipient_id"]
    summary = monthly_reconciliation(period=PERIOD, inbound=str(tmp_path / "inbound"), outbound=str(tmp_path / "outbound"))
    assert summary.recipients == 2
    why = f"the agreement of '{rid}' (agreements.csv line 3) was rejected"
    manifest = json.loads((tmp_path / "outbound" / PERIOD / "manifest.json").read_text())
    files = {entry["source_file"]: entry for entry in manifest["inputs"] if f"/{rid}/" in entry["source_file"]}
    on_disk = {path.relative_to(tmp_path / "inbound").as_posix() for path in (tmp_path / "inbound").glob(f"*/{rid}/*")}
    assert set(files) == on_disk and len(on_disk) >= 3
    assert all((entry["status"], entry["rows_used"]) == ("rejected", 0) and entry["reason"].startswith(why) for entry in files.values())
    findings = [row for row in rows(tmp_path / "outbound" / PERIOD / "exceptions.csv") if row["recipient_id"] == rid]
    assert {row["rule"] for row in findings} == {"INPUT_REJECTED"}
    assert [row["severity"] for row in findings if row["source_file"] == "agreements.csv:3"] == ["high"]
    council_rows = [row for row in findings if row["source_file"].split(":")[0] in ("provision.csv", "la_payments.csv", "employees.csv")]
    assert council_rows and all(why in row["detail"] for row in council_rows)
    assert {row["source_file"] for row in findings if why in row["detail"] and ":" not in row["source_file"]} == on_disk


def test_a_recipient_with_one_of_two_agreements_rejected_is_judged_on_neither(tmp_path, prefect_harness):
    """A red team: the agreement in force rejected (its amount mistyped), the old one alone made all of June's
    spending SPEND_OUTSIDE_AGREEMENT, a recovery and a letter. Now the recipient is not monitored, as when its only
    agreement is rejected, and its other row says why."""
    from flows.reconciliation import monthly_reconciliation

    generate(tmp_path / "inbound", PERIOD, recipients=3)
    table = tmp_path / "inbound" / "agreements.csv"
    agreements = rows(table)
    current = agreements[1]
    old = {**current, "start_date": "2020-01-01", "end_date": "2020-12-31", "first_payment_date": "2020-01-01"}
    current["payment_amount"] = "13OO.00"
    with table.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(agreements[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows([*agreements, old])
    rid = current["recipient_id"]
    summary = monthly_reconciliation(period=PERIOD, inbound=str(tmp_path / "inbound"), outbound=str(tmp_path / "outbound"))
    assert summary.recipients == 2
    findings = [row for row in rows(tmp_path / "outbound" / PERIOD / "exceptions.csv") if row["recipient_id"] == rid]
    assert {row["rule"] for row in findings} == {"INPUT_REJECTED"}
    last = len(agreements) + 2  # after the header and every row
    assert [(row["severity"], row["detail"]) for row in findings if row["source_file"] == f"agreements.csv:{last}"] == [
        ("high", f"row not used: the agreement of '{rid}' (agreements.csv line 3) was rejected, "
                 "so its other agreement rows are not used until it is mended")]
    manifest = json.loads((tmp_path / "outbound" / PERIOD / "manifest.json").read_text())
    entry = next(entry for entry in manifest["inputs"] if entry["source_file"] == "agreements.csv")
    assert (entry["rows_read"], entry["rows_used"], entry["rows_rejected"]) == (len(agreements) + 1, len(agreements) - 1, 2)


def test_a_deployment_run_whose_agreements_all_fail_validation_fails_before_the_lock(tmp_path, prefect_harness, monkeypatch):
    """No CLI to check first (a scheduled run): the flow itself refuses before it takes the period's lock,
    and writes nothing."""
    from flows import reconciliation
    from flows.reconciliation import monthly_reconciliation
    from pipeline.ingest.inbound import InboundUnusable

    locked = []
    monkeypatch.setattr(reconciliation.publishing.PeriodLock, "__enter__", lambda self: locked.append(self) or self)

    generate(tmp_path / "inbound", PERIOD, recipients=2)
    table = tmp_path / "inbound" / "agreements.csv"
    agreements = rows(table)
    with table.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(agreements[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({**row, "payment_amount": "0.00"} for row in agreements)
    with pytest.raises(InboundUnusable, match=r"^agreements.csv holds no usable agreement: every row was rejected \(line 2: column 'payment_amount': '0.00' is not from"):
        monthly_reconciliation(period=PERIOD, inbound=str(tmp_path / "inbound"), outbound=str(tmp_path / "outbound"))
    assert locked == [] and not (tmp_path / "outbound").exists()


def test_a_deployment_run_with_a_wrong_folder_fails_naming_it(tmp_path, prefect_harness):
    """What the Prefect UI shows the next morning: the folder and what is wrong with it, not an OS error."""
    from flows.reconciliation import monthly_reconciliation
    from pipeline.ingest.inbound import InboundUnusable
    from pipeline.report.outbound import OutboundUnusable

    from pipeline.period import PeriodUnusable

    class Records(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.records: list[logging.LogRecord] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.records.append(record)

    log = Records()
    logging.getLogger("prefect.flow_runs").addHandler(log)
    try:
        with pytest.raises(InboundUnusable, match=r"^inbound folder '.*nowhere' does not exist or is not a folder"):
            monthly_reconciliation(period=PERIOD, inbound=str(tmp_path / "nowhere"), outbound=str(tmp_path / "outbound"))
        generate(tmp_path / "inbound", PERIOD, recipients=1)
        with pytest.raises(PeriodUnusable, match=r"^the period must be a month as YYYY-MM \(e.g. 2025-06\), got '2025-6'$"):
            monthly_reconciliation(period="2025-6", inbound=str(tmp_path / "inbound"), outbound=str(tmp_path / "outbound"))
        (tmp_path / "outbound").write_text("a file")
        with pytest.raises(OutboundUnusable, match=r"^outbound folder '.*outbound' is a file, not a folder$"):
            monthly_reconciliation(period=PERIOD, inbound=str(tmp_path / "inbound"), outbound=str(tmp_path / "outbound"))
    finally:
        logging.getLogger("prefect.flow_runs").removeHandler(log)
    ended = [record for record in log.records if record.getMessage().startswith("Encountered exception during execution")]
    assert len(ended) == 3 and not any(record.exc_info for record in ended), "a refusal's traceback in the run log"
    assert "does not exist or is not a folder" in ended[0].getMessage()


def test_a_provision_line_written_again_under_another_case_of_the_id_is_a_repeated_line(tmp_path, prefect_harness):
    """Ids take the agreements' spelling before validation: "dp..,L1" beside "DP..,L1" is one line pasted twice,
    counted once (a red team found both rejected, and the line's spending then called misuse)."""
    from flows.reconciliation import monthly_reconciliation

    generate(tmp_path / "inbound", PERIOD, recipients=2)
    table = tmp_path / "inbound" / "provision.csv"
    lines = table.read_text().splitlines(keepends=True)
    first = lines[1].split(",", 1)
    table.write_text("".join(lines) + first[0].lower() + "," + first[1])
    monthly_reconciliation(period=PERIOD, inbound=str(tmp_path / "inbound"), outbound=str(tmp_path / "outbound"))
    findings = rows(tmp_path / "outbound" / PERIOD / "exceptions.csv")
    rejected = [(row["source_file"], row["detail"]) for row in findings if row["source_file"].startswith("provision.csv")]
    assert rejected == [(f"provision.csv:{len(lines) + 1}", "row not used: repeats line 2 in every column: the same provision line twice is counted once")]
    assert {row["rule"] for row in findings} == {"INPUT_REJECTED"}


def test_an_agreement_renewed_under_another_case_of_the_id_is_the_same_recipients(tmp_path, prefect_harness):
    """DP0001 until 10 June, then dp0001: one recipient, whose June is clean (a red team found a second, phantom
    recipient with a missing statement and an unpaid council payment, and the first's spending outside its agreement)."""
    from flows.reconciliation import monthly_reconciliation

    generate(tmp_path / "inbound", PERIOD, recipients=2)
    table = tmp_path / "inbound" / "agreements.csv"
    agreements = rows(table)
    renewal = {**agreements[0], "recipient_id": agreements[0]["recipient_id"].lower(), "start_date": "2025-06-11", "end_date": ""}
    agreements[0]["end_date"] = "2025-06-10"
    with table.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(agreements[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows([*agreements, renewal])
    summary = monthly_reconciliation(period=PERIOD, inbound=str(tmp_path / "inbound"), outbound=str(tmp_path / "outbound"))
    assert (summary.recipients, summary.findings_by_rule) == (2, {})


def test_spend_is_judged_against_section_j_only_where_the_plan_was_read_whole(tmp_path, prefect_harness):
    """A provision line rejected (here for an unquoted comma) leaves its recipient's spend unjudged against the plan,
    and says so; the others' is judged as before. With no provision file, nobody's: a red team found every categorised receipt of the
    council called misuse, with a recovery and a draft letter for each recipient."""
    from openpyxl import load_workbook

    from flows.reconciliation import monthly_reconciliation

    inbound = tmp_path / "inbound"
    generate(inbound, PERIOD, recipients=3, anomalies=["SPEND_NOT_IN_PLAN", "SPEND_NOT_IN_PLAN"])
    table = inbound / "provision.csv"
    lines = table.read_text().splitlines(keepends=True)
    broken = next(number for number, line in enumerate(lines) if line.startswith('DP0001,L1,personal_assistant,"Personal assistant, '))
    lines[broken] = lines[broken].replace('"', "")  # a comma in the description, unquoted: a field too many
    table.write_text("".join(lines))

    def run(outbound: str) -> tuple[list[dict], dict, list[tuple]]:
        monthly_reconciliation(period=PERIOD, inbound=str(inbound), outbound=str(tmp_path / outbound))
        book = load_workbook(tmp_path / outbound / PERIOD / "exceptions.xlsx")
        counts = {row[0].value: row[1].value for row in book["Summary"].iter_rows() if row[0].value}
        listed = [row for row in book["Plans not read whole"].iter_rows(min_row=2, values_only=True)]
        return rows(tmp_path / outbound / PERIOD / "exceptions.csv"), counts, listed

    findings, counts, listed = run("one-line")
    assert [row["recipient_id"] for row in findings if row["rule"] == "SPEND_NOT_IN_PLAN"] == ["DP0002"]
    assert [(row["recipient_id"], row["detail"]) for row in findings if row["source_file"] == f"provision.csv:{broken + 1}"] == [
        ("DP0001", "row not used: row has 9 fields but the header has 8; so SPEND_NOT_IN_PLAN is not judged for DP0001 this month")]
    assert counts["Section J plans not read whole"] == 1
    assert [(recipient, why) for recipient, _, why in listed] == [("DP0001", f"provision.csv line {broken + 1} rejected")]

    table.write_text("".join(line for line in lines if not line.startswith("DP0003,")))  # a recipient the file is silent on
    findings, counts, listed = run("silent")
    assert [row["recipient_id"] for row in findings if row["rule"] == "SPEND_NOT_IN_PLAN"] == ["DP0002"]
    assert [(recipient, why) for recipient, _, why in listed] == [
        ("DP0001", f"provision.csv line {broken + 1} rejected"), ("DP0003", "no line of theirs in provision.csv")]

    table.unlink()
    findings, counts, listed = run("no-file")
    assert not [row for row in findings if row["rule"] == "SPEND_NOT_IN_PLAN"]
    assert not rows(tmp_path / "no-file" / PERIOD / "clawback.csv")
    assert not list((tmp_path / "no-file" / PERIOD).glob("notices/*"))
    assert [row["detail"] for row in findings if row["source_file"] == "provision.csv"] == [
        "file not used: required file provision.csv (or .xlsx) is missing: nothing of it could be checked; "
        "so no spend is judged SPEND_NOT_IN_PLAN this month"]
    assert counts["Section J plans not read whole"] == 3 == len(listed)


def test_a_council_whose_agreements_are_all_notional_runs_and_monitors_no_one(tmp_path, prefect_harness):
    """A review found such a run failed (a join on an empty list of plans): notional agreements are skipped, not flagged."""
    from flows.reconciliation import monthly_reconciliation

    generate(tmp_path / "inbound", PERIOD, recipients=2)
    table = tmp_path / "inbound" / "agreements.csv"
    agreements = [row | {"mechanism": "notional"} for row in rows(table)]
    with table.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(agreements[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(agreements)
    summary = monthly_reconciliation(period=PERIOD, inbound=str(tmp_path / "inbound"), outbound=str(tmp_path / "outbound"))
    assert summary.recipients == 0 and set(summary.findings_by_rule) <= {"INPUT_REJECTED"}
