"""Tiny canonical frames for rule tests: one recipient, a few rows, everything else defaulted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import polars as pl

from pipeline import schemas
from pipeline.ingest.plans import UNREAD_PLANS
from pipeline.period import Period
from pipeline.policy import load_policy
from pipeline.reconcile.run import reconcile

PERIOD = Period.parse("2025-06")
R = "R1"


def d(text: str) -> date:
    return date.fromisoformat(text)


@dataclass
class Council:
    """A recipient's world, built row by row; ``run`` reconciles it."""

    agreements: list[dict] = field(default_factory=list)
    provision: list[dict] = field(default_factory=list)
    la_payments: list[dict] = field(default_factory=list)
    employees: list[dict] = field(default_factory=list)
    receipts: list[dict] = field(default_factory=list)
    payslips: list[dict] = field(default_factory=list)
    lines: list[dict] = field(default_factory=list)
    statements: list[dict] = field(default_factory=list)
    unread_plans: list[tuple[str, str]] = field(default_factory=list)  # (recipient, why) of plans not read whole

    def agreement(self, **values) -> "Council":
        row = dict(recipient_id=R, recipient_name="Ann Example", plan_ref="EHCP-1", mechanism="direct",
                   start_date=d("2024-09-01"), end_date=None, payment_amount_pence=100000, payment_frequency="monthly",
                   contingency_weeks_x100=None, account_number="12345678", first_payment_date=d("2024-09-01"),
                   last_review_date=d("2025-03-01"), source_file="agreements.csv", source_line=len(self.agreements) + 2)
        self.agreements.append(row | values)
        return self

    def line_item(self, line_id: str, category: str, amount: int, per: str = "month", costed_vat: str = "inclusive", **values) -> "Council":
        self.provision.append(dict(recipient_id=R, line_id=line_id, category=category, description=f"{category} line",
                                   amount_pence=amount, per=per, funding_stream="social_care", costed_vat=costed_vat,
                                   source_file="provision.csv", source_line=len(self.provision) + 2) | values)
        return self

    def council_payment(self, day: str, amount: int, reference: str = "PAY1") -> "Council":
        self.la_payments.append(dict(recipient_id=R, payment_date=d(day), amount_pence=amount, reference=reference,
                                     source_file="la_payments.csv", source_line=len(self.la_payments) + 2))
        return self

    def employee(self, employee_id: str = "E1", dbs_level: str | None = "enhanced") -> "Council":
        self.employees.append(dict(recipient_id=R, employee_id=employee_id, employee_name="Pat Carer", dbs_level=dbs_level,
                                   dbs_check_date=d("2024-01-01"), source_file="employees.csv", source_line=len(self.employees) + 2))
        return self

    def receipt(self, day: str, gross: int, supplier: str = "Riverside Leisure", **values) -> "Council":
        n = len(self.receipts) + 1
        row = dict(recipient_id=R, receipt_id=f"RC{n}", date=d(day), supplier=supplier, supplier_vat_number=None,
                   description=None, category=None, line_id=None, net_pence=None, vat_pence=None, gross_pence=gross,
                   payment_method="card", source_file=f"receipts/{R}/r.csv", source_line=n + 1)
        self.receipts.append(row | values)
        return self

    def payslip(self, day: str, net: int, employee_id: str = "E1", tax: int = 0, ee_ni: int = 0, er_ni: int = 0,
                ee_pension: int = 0, er_pension: int = 0) -> "Council":
        n = len(self.payslips) + 1
        self.payslips.append(dict(recipient_id=R, employee_id=employee_id, employee_name="Pat Carer", pay_date=d(day),
                                  period_start=None, period_end=None, gross_pay_pence=net + tax + ee_ni + ee_pension,
                                  tax_pence=tax, employee_ni_pence=ee_ni, employer_ni_pence=er_ni,
                                  employee_pension_pence=ee_pension, employer_pension_pence=er_pension,
                                  net_pay_pence=net, source_file=f"payroll/{R}/p.csv", source_line=n + 1))
        return self

    def bank(self, day: str, amount: int, counterparty: str = "SHOP", balance: int | None = None, statement: str = "s1.csv",
             account: str = "12345678", mcc: str | None = None, trntype: str = "", fitid: str | None = None) -> "Council":
        n = len(self.lines)
        seq = sum(1 for line in self.lines if line["statement_id"].startswith(statement))
        self.lines.append(dict(recipient_id=R, statement_id=f"{statement}#{account}", account_id=account, date=d(day),
                               amount_pence=amount, balance_pence=balance, description=counterparty, counterparty=counterparty,
                               trntype=trntype, mcc=mcc, fitid=fitid, txn_key=fitid or f"k{n}", seq=seq, layout="generic",
                               source_file=f"statements/{R}/{statement}", source_line=seq + 2))
        return self

    def frames(self) -> dict[str, pl.DataFrame]:
        lines = pl.DataFrame(self.lines, schema=schemas.TRANSACTIONS) if self.lines else schemas.empty(schemas.TRANSACTIONS)
        statements = pl.DataFrame(self.statements, schema=schemas.STATEMENTS) if self.statements else schemas.conform(
            lines.group_by("statement_id", maintain_order=True).agg(
                pl.col("recipient_id").first(), pl.col("account_id").first(), pl.col("layout").first(),
                pl.col("date").min().alias("start_date"), pl.col("date").max().alias("end_date"),
                pl.col("source_file").first()), schemas.STATEMENTS)
        make = lambda rows, schema: pl.DataFrame(rows, schema=schema) if rows else schemas.empty(schema)  # noqa: E731
        return {
            "agreements": make(self.agreements, schemas.AGREEMENTS),
            "provision": make(self.provision, schemas.PROVISION),
            "la_payments": make(self.la_payments, schemas.LA_PAYMENTS),
            "employees": make(self.employees, schemas.EMPLOYEES),
            "receipts": make(self.receipts, schemas.RECEIPTS),
            "payslips": make(self.payslips, schemas.PAYSLIPS),
            "transactions": lines,
            "statements": statements,
            "unread_plans": pl.DataFrame(self.unread_plans, schema=UNREAD_PLANS, orient="row"),
        }

    def run(self, policy_file=None, period: Period = PERIOD):
        return reconcile(self.frames(), schemas.empty(schemas.REJECTIONS), load_policy(policy_file), period)

    def findings(self, rule: str, **kwargs) -> list[tuple]:
        """(amount_pence, date, source_file) of every finding of ``rule``."""
        found = self.run(**kwargs).findings.filter(pl.col("rule") == rule).sort("source_file", "date", "amount_pence")
        return found.select("amount_pence", "date", "source_file").rows()


def council() -> Council:
    """A recipient with an active agreement and a statement line in the period: no findings on its own."""
    return Council().agreement().line_item("L1", "activities", 20000).bank("2025-06-02", 100000, "COUNCIL", balance=100000)
