"""The whole reconciliation of one period, as one pure function of frames."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import polars as pl

from pipeline import schemas
from pipeline.accounts import mask_columns
from pipeline.period import Period
from pipeline.policy import Policy
from pipeline.reconcile import rules_accounts as accounts
from pipeline.reconcile import rules_documents as documents
from pipeline.reconcile import rules_spend as spend
from pipeline.reconcile.books import Books, prepare
from pipeline.reconcile.evidence import Evidence, match
from pipeline.reconcile.findings import RULES, concat
from pipeline.reconcile.outcome import clawback, enhanced_monitoring, input_rejected, transactions_view

# rule code -> how it is computed; every rule of the contract appears once
RULE_FUNCTIONS = {
    "SURPLUS_ABOVE_CONTINGENCY": lambda books, evidence: accounts.surplus_above_contingency(books),
    "PROHIBITED_SPEND": lambda books, evidence: spend.prohibited_spend(books),
    "SPEND_NOT_IN_PLAN": spend.spend_not_in_plan,
    "PROVISION_OVERSPEND": lambda books, evidence: spend.provision_overspend(books),
    "CASH_WITHDRAWAL_UNEVIDENCED": spend.cash_withdrawal_unevidenced,
    "TRANSACTION_UNEVIDENCED": spend.transaction_unevidenced,
    "SPEND_OUTSIDE_AGREEMENT": lambda books, evidence: spend.spend_outside_agreement(books),
    "STATEMENT_MISSING": lambda books, evidence: accounts.statement_missing(books),
    "BALANCE_DISCONTINUITY": lambda books, evidence: accounts.balance_discontinuity(books),
    "UNREGISTERED_ACCOUNT": lambda books, evidence: accounts.unregistered_account(books),
    "LA_PAYMENT_NOT_RECEIVED": accounts.la_payment_not_received,
    "DUPLICATE_RECEIPT": lambda books, evidence: documents.duplicate_receipt(books),
    "PAYROLL_UNMATCHED": documents.payroll_unmatched,
    "EMPLOYEE_NO_DBS": lambda books, evidence: documents.employee_no_dbs(books),
    "VAT_NUMBER_INVALID": lambda books, evidence: documents.vat_number_invalid(books),
    "VAT_NUMBER_MISSING": lambda books, evidence: documents.vat_number_missing(books),
    "VAT_ARITHMETIC": lambda books, evidence: documents.vat_arithmetic(books),
    "VAT_ON_EXEMPT_SUPPLY": lambda books, evidence: documents.vat_on_exempt_supply(books),
    "VAT_RELIEF_MISSED": lambda books, evidence: documents.vat_relief_missed(books),
    "VAT_COSTING_SHORTFALL": lambda books, evidence: documents.vat_costing_shortfall(books),
    "REVIEW_OVERDUE": lambda books, evidence: accounts.review_overdue(books),
}
assert set(RULE_FUNCTIONS) | {"INPUT_REJECTED"} == set(RULES)


@dataclass(frozen=True)
class Outcome:
    findings: pl.DataFrame  # schemas.FINDINGS, every rule
    clawback: pl.DataFrame  # every monitored recipient's money position (pence)
    monitoring: pl.DataFrame  # recipients recommended for enhanced monitoring
    transactions: pl.DataFrame  # every bank line of the period with its evidence status
    agreements: pl.DataFrame  # the monitored (non-notional) agreements, with ``active``
    recipients: int  # recipients monitored
    # what the rules read: kept by ``reconcile``; None in an outcome made of parts
    books: Books | None
    evidence: Evidence | None


def reconcile(frames: dict[str, pl.DataFrame], rejections: pl.DataFrame, policy: Policy, period: Period) -> Outcome:
    """Every rule over every recipient, as one part combined the way a run combines its shards (for tests
    and tools), keeping the part's books and evidence to look into."""
    part = _reconcile(frames, policy, period, keep_books=True)
    return dataclasses.replace(combine([part], rejections), books=part.books, evidence=part.evidence)


def reconcile_part(part: dict[str, pl.DataFrame], policy: Policy, period: Period) -> Outcome:
    """One part's outcome, without the input rejections (``combine`` adds them once) or its books."""
    return _reconcile(part, policy, period, keep_books=False)


def combine(parts: list[Outcome], rejections: pl.DataFrame) -> Outcome:
    """The parts' outcomes (in recipient order) as one, with the input rejections."""
    return Outcome(
        findings=concat([part.findings for part in parts] + [schemas.conform(input_rejected(rejections), schemas.FINDINGS)]),
        clawback=pl.concat([part.clawback for part in parts]).sort("recipient_id"),
        monitoring=pl.concat([part.monitoring for part in parts]).sort("recipient_id"),
        transactions=pl.concat([part.transactions for part in parts]).sort("recipient_id", maintain_order=True),  # each part in order
        agreements=pl.concat([part.agreements for part in parts]),
        recipients=sum(part.recipients for part in parts),
        books=None,
        evidence=None,
    )


def _reconcile(frames: dict[str, pl.DataFrame], policy: Policy, period: Period, keep_books: bool) -> Outcome:
    books = prepare(frames, policy, period)
    evidence = match(books)
    findings = concat([schemas.conform(rule(books, evidence), schemas.FINDINGS) for rule in RULE_FUNCTIONS.values()])
    position = clawback(books, findings)
    # free text (a receipt's supplier, the details that quote a category) as every output shows it; the
    # references in transaction_ref (bank ids, receipt ids) as written, like file names, so that they can be found
    return Outcome(
        findings=mask_columns(findings, ("counterparty", "detail")),
        clawback=position,
        monitoring=mask_columns(enhanced_monitoring(books, findings, position), ("detail",)),
        transactions=mask_columns(transactions_view(books, evidence, findings), ("counterparty", "evidence_ref", "reason")),
        agreements=books.agreements,
        recipients=books.monitored.height,
        books=books if keep_books else None,
        evidence=evidence if keep_books else None,
    )
