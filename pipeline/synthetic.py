"""A synthetic council: recipients, Section J plans, payroll, receipts and bank statements.

Clean recipients are internally consistent: every debit is explained by a
receipt, a payslip or a payroll liability; every council payment arrives;
balances chain across two overlapping statements; VAT is right. Anomalies
are planted on request, one recipient each, and returned as the ground truth
(recipient -> the rules that must fire), so tests can measure precision and
recall of the whole flow.

Statements rotate through every supported format so a run exercises them all.
``python -m pipeline.synthetic --recipients 30 --period 2025-06 --out inbound``
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from pipeline.money import pounds_text as pounds
from pipeline.period import Period

FORMATS = (
    "ofx_sgml", "lloyds", "nationwide", "generic", "ofx_xml", "starling", "monzo", "natwest", "santander",
    "barclays", "prepaid_card", "nationwide_midata", "hsbc",
)

# anomaly -> the rules it must make fire for its recipient (some anomalies have honest side effects)
ANOMALIES = {
    "SURPLUS_ABOVE_CONTINGENCY": {"SURPLUS_ABOVE_CONTINGENCY"},
    "PROHIBITED_SPEND": {"PROHIBITED_SPEND"},
    "SPEND_NOT_IN_PLAN": {"SPEND_NOT_IN_PLAN"},
    "PROVISION_OVERSPEND": {"PROVISION_OVERSPEND"},
    "CASH_WITHDRAWAL_UNEVIDENCED": {"CASH_WITHDRAWAL_UNEVIDENCED"},
    "TRANSACTION_UNEVIDENCED": {"TRANSACTION_UNEVIDENCED"},
    "SPEND_OUTSIDE_AGREEMENT": {"SPEND_OUTSIDE_AGREEMENT"},
    "STATEMENT_MISSING": {"STATEMENT_MISSING", "LA_PAYMENT_NOT_RECEIVED", "PAYROLL_UNMATCHED"},
    "BALANCE_DISCONTINUITY": {"BALANCE_DISCONTINUITY"},
    "UNREGISTERED_ACCOUNT": {"UNREGISTERED_ACCOUNT"},
    "LA_PAYMENT_NOT_RECEIVED": {"LA_PAYMENT_NOT_RECEIVED"},
    "DUPLICATE_RECEIPT": {"DUPLICATE_RECEIPT"},
    "PAYROLL_UNMATCHED": {"PAYROLL_UNMATCHED"},
    "EMPLOYEE_NO_DBS": {"EMPLOYEE_NO_DBS"},
    "VAT_NUMBER_INVALID": {"VAT_NUMBER_INVALID"},
    "VAT_NUMBER_MISSING": {"VAT_NUMBER_MISSING"},
    "VAT_ARITHMETIC": {"VAT_ARITHMETIC"},
    "VAT_ON_EXEMPT_SUPPLY": {"VAT_ON_EXEMPT_SUPPLY"},
    "VAT_RELIEF_MISSED": {"VAT_RELIEF_MISSED"},
    "VAT_COSTING_SHORTFALL": {"VAT_COSTING_SHORTFALL"},
    "REVIEW_OVERDUE": {"REVIEW_OVERDUE"},
    "INPUT_REJECTED": {"INPUT_REJECTED"},
}

FIRST = ["Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Mia", "Arthur", "Ivy", "Leo", "Freya", "Oscar", "Aisha", "Mohammed", "Priya", "Harry", "Grace", "Jack", "Zara", "Theo"]
LAST = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Khan", "Patel", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Hughes", "Edwards", "Green", "Hall", "Wood", "Clarke", "Ahmed"]
SUPPLIERS = {
    "activities": ["Riverside Leisure Centre", "Sensory Play Ltd", "Little Explorers Club", "Splash Swim School"],
    "transport": ["Go North Taxis", "Metro Travel Card", "Ace Accessible Cabs"],
    "short_breaks": ["Seaview Holiday Lodges", "Oak Tree Respite Breaks"],
    "therapy": ["Bright Steps Therapy", "Speech Matters Clinic"],
    "equipment": ["Mobility World", "Ability Aids Direct"],
    "groceries": ["Tesco Stores", "Sainsbury's"],
}
VAT_RATED = {"activities"}  # standard-rated in the clean data; the rest are zero-rated or outside VAT


def vat_number(rng: random.Random) -> str:
    """A VAT number that passes HMRC's mod-97 check."""
    digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(6)]
    total = sum(weight * digit for weight, digit in zip((8, 7, 6, 5, 4, 3, 2), digits))
    check = (-total) % 97
    return "GB {}{}{} {}{}{}{} {:02d}".format(*digits, check)


@dataclass
class Line:
    day: date
    amount: int  # pence, signed
    counterparty: str
    kind: str  # ofx TRNTYPE-ish
    mcc: str = ""
    fitid: str = ""


@dataclass
class Recipient:
    rid: str
    name: str
    fmt: str
    account: str
    payment: int
    agreement: dict
    provision: list[dict] = field(default_factory=list)
    la_payments: list[dict] = field(default_factory=list)
    employees: list[dict] = field(default_factory=list)
    receipts: list[dict] = field(default_factory=list)
    payslips: list[dict] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    opening: int = 60000
    statement_account: str = ""
    drop_current_statement: bool = False
    break_balance: bool = False
    extra_files: dict[str, bytes] = field(default_factory=dict)


class Council:
    """Builds recipients for a period: two months of statements (the period and the one before)."""

    def __init__(self, period: Period, seed: int = 7, purchases: int = 2, formats: tuple[str, ...] = FORMATS):
        self.period = period
        self.formats = formats  # statement layouts, taken in turn by recipient number
        self.purchases = purchases  # receipted purchases per category per month
        self.rng = random.Random(seed)
        self.previous = Period.parse(period.previous_start.strftime("%Y-%m"))
        before = self.previous.previous_start
        self.before = Period.parse(before.strftime("%Y-%m"))
        self.vat_numbers = {supplier: vat_number(self.rng) for names in SUPPLIERS.values() for supplier in names}
        self.receipt_counter = 0

    def _receipt(self, r: Recipient, day: date, category: str, gross: int, *, vat: bool | None = None, line_id: str = "",
                 method: str = "card", supplier: str | None = None) -> dict:
        supplier = supplier or self.rng.choice(SUPPLIERS[category])
        self.receipt_counter += 1
        rated = category in VAT_RATED if vat is None else vat
        net = round(gross * 100 / 120) if rated else None
        receipt = {
            "receipt_id": f"RC{self.receipt_counter:06d}", "date": day.isoformat(), "supplier": supplier,
            "supplier_vat_number": self.vat_numbers.get(supplier, "") if rated else "", "description": f"{category.replace('_', ' ')}",
            "category": category, "line_id": line_id, "net": pounds(net) if rated else "",
            "vat": pounds(gross - net) if rated else "", "gross": pounds(gross), "payment_method": method,
        }
        r.receipts.append(receipt)
        return receipt

    def recipient(self, index: int) -> Recipient:
        rng = self.rng
        rid = f"DP{index:04d}"
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        fmt = self.formats[index % len(self.formats)]
        account = f"{rng.randint(10000000, 99999999)}"
        start = self.period.start - timedelta(days=rng.randint(400, 900))
        payment = rng.choice([130000, 145000, 160000])
        r = Recipient(rid, name, fmt, account, payment, {
            "recipient_id": rid, "recipient_name": name, "plan_ref": f"EHCP-{rng.randint(100000, 999999)}",
            "mechanism": rng.choice(["direct", "direct", "third_party", "combined"]), "start_date": start.isoformat(),
            "end_date": "", "payment_amount": pounds(payment), "payment_frequency": "monthly", "contingency_weeks": "",
            "account_number": account, "first_payment_date": start.isoformat(),
            "last_review_date": (self.period.end - timedelta(days=rng.randint(30, 200))).isoformat(),
        }, statement_account=account)
        lines = [("L1", "personal_assistant", "Personal assistant, 20 hours a week", 120000, "month", "social_care", "inclusive"),
                 ("L2", "activities", "Community activities and clubs", 20000, "month", "social_care", "inclusive"),
                 ("L3", "transport", "Transport to activities", 8000, "month", "education", "inclusive"),
                 ("L4", "short_breaks", "Short breaks", 150000, "year", "social_care", "inclusive"),
                 ("L5", "therapy", "Speech and language therapy", 6000, "month", "health", "inclusive"),
                 ("L6", "equipment", "Sensory equipment", 40000, "one_off", "education", "exclusive")]
        r.provision = [{"recipient_id": rid, "line_id": lid, "category": cat, "description": desc, "amount": pounds(amount),
                        "per": per, "funding_stream": stream, "costed_vat": vat} for lid, cat, desc, amount, per, stream, vat in lines]
        employee = f"E{index:04d}"
        r.employees.append({"recipient_id": rid, "employee_id": employee, "employee_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                            "dbs_level": "enhanced", "dbs_check_date": (start + timedelta(days=10)).isoformat()})
        # council payments, payroll and spending for the month before last, last month and this one
        for month in (self.before, self.previous, self.period):
            self._month(r, month, employee, in_statements=month is not self.before)
        return r

    def _month(self, r: Recipient, month: Period, employee: str, in_statements: bool) -> None:
        rng = self.rng
        paid = month.start
        r.la_payments.append({"recipient_id": r.rid, "payment_date": paid.isoformat(), "amount": pounds(r.payment),
                              "reference": f"DP{month.label.replace('-', '')}{r.rid}"})
        gross, tax, ee_ni, er_ni, ee_pen, er_pen = 110000, 6000, 3500, 4500, 2200, 3300
        net = gross - tax - ee_ni - ee_pen
        pay_day = month.start + timedelta(days=26)
        r.payslips.append({"employee_id": employee, "employee_name": r.employees[0]["employee_name"], "pay_date": pay_day.isoformat(),
                           "period_start": month.start.isoformat(), "period_end": month.end.isoformat(), "gross_pay": pounds(gross),
                           "tax": pounds(tax), "employee_ni": pounds(ee_ni), "employer_ni": pounds(er_ni),
                           "employee_pension": pounds(ee_pen), "employer_pension": pounds(er_pen), "net_pay": pounds(net)})
        if not in_statements:
            return
        r.lines.append(Line(paid + timedelta(days=rng.randint(0, 1)), r.payment, "COUNCIL DIRECT PAYMENT", "CREDIT"))
        r.lines.append(Line(pay_day, -net, f"PAYROLL {r.employees[0]['employee_name'].upper()}", "DEBIT"))
        r.lines.append(Line(month.start + timedelta(days=18), -(tax + ee_ni + er_ni), "HMRC PAYE", "DEBIT"))
        r.lines.append(Line(month.start + timedelta(days=14), -(ee_pen + er_pen), "NEST PENSIONS", "DEBIT"))
        for category, low, high in (("activities", 1800, 4500), ("transport", 900, 2400)):
            for _ in range(self.purchases):
                day = month.start + timedelta(days=rng.randint(2, 24))
                amount = rng.randint(low, high)
                receipt = self._receipt(r, day, category, amount, line_id=rng.choice(["", "L2" if category == "activities" else "L3"]))
                r.lines.append(Line(day + timedelta(days=rng.randint(0, 2)), -amount, receipt["supplier"].upper(), "POS"))

    # -- anomalies -----------------------------------------------------------------------
    def plant(self, r: Recipient, anomaly: str) -> None:
        p = self.period
        mid = p.start + timedelta(days=11)
        if anomaly == "SURPLUS_ABOVE_CONTINGENCY":
            r.opening += 900000
        elif anomaly == "PROHIBITED_SPEND":
            r.lines.append(Line(mid, -4500, "BET365 LTD", "POS", mcc="7995"))
        elif anomaly == "SPEND_NOT_IN_PLAN":
            receipt = self._receipt(r, mid, "groceries", 5620)
            r.lines.append(Line(mid, -5620, receipt["supplier"].upper(), "POS"))
        elif anomaly == "PROVISION_OVERSPEND":
            for offset in (3, 9):  # two purchases against a one-off £400 equipment line
                receipt = self._receipt(r, p.start + timedelta(days=offset), "equipment", 30000, vat=False, line_id="L6")
                r.lines.append(Line(p.start + timedelta(days=offset), -30000, receipt["supplier"].upper(), "POS"))
        elif anomaly == "CASH_WITHDRAWAL_UNEVIDENCED":
            r.lines.append(Line(mid, -10000, "CASH WITHDRAWAL HIGH ST", "ATM", mcc="6011"))
        elif anomaly == "TRANSACTION_UNEVIDENCED":
            r.lines.append(Line(mid, -8999, "AMAZON MARKETPLACE", "POS"))
        elif anomaly == "SPEND_OUTSIDE_AGREEMENT":
            r.agreement["end_date"] = (p.end - timedelta(days=1)).isoformat()
            receipt = self._receipt(r, p.end, "transport", 2500, line_id="L3")
            r.lines.append(Line(p.end, -2500, receipt["supplier"].upper(), "POS"))
        elif anomaly == "STATEMENT_MISSING":
            r.drop_current_statement = True
        elif anomaly == "BALANCE_DISCONTINUITY":
            r.fmt = "lloyds"
            r.break_balance = True
        elif anomaly == "UNREGISTERED_ACCOUNT":
            r.fmt = "ofx_sgml"
            r.statement_account = f"{int(r.account) + 1}"
        elif anomaly == "LA_PAYMENT_NOT_RECEIVED":
            r.lines = [line for line in r.lines if not (line.amount > 0 and line.day >= p.start)]
        elif anomaly == "DUPLICATE_RECEIPT":
            original = next(receipt for receipt in r.receipts if receipt["date"] >= p.start.isoformat())
            r.extra_files["receipts_resubmitted.csv"] = _csv_bytes([original])
        elif anomaly == "PAYROLL_UNMATCHED":
            r.lines = [line for line in r.lines if not (line.counterparty.startswith("PAYROLL") and line.day >= p.start)]
        elif anomaly == "EMPLOYEE_NO_DBS":
            r.employees[0]["dbs_level"] = "basic"
        elif anomaly == "VAT_NUMBER_INVALID":
            receipt = self._period_receipt(r, "activities")
            digits = receipt["supplier_vat_number"]
            receipt["supplier_vat_number"] = digits[:-1] + str((int(digits[-1]) + 1) % 10)
        elif anomaly == "VAT_NUMBER_MISSING":
            self._period_receipt(r, "activities")["supplier_vat_number"] = ""
        elif anomaly == "VAT_ARITHMETIC":
            receipt = self._period_receipt(r, "activities")
            gross = int(receipt["gross"].replace(".", ""))
            net = round(gross / 1.15)
            receipt.update(net=pounds(net), vat=pounds(gross - net))
        elif anomaly == "VAT_ON_EXEMPT_SUPPLY":
            receipt = self._receipt(r, mid, "therapy", 6000, vat=True, line_id="L5")
            r.lines.append(Line(mid, -6000, receipt["supplier"].upper(), "POS"))
        elif anomaly == "VAT_RELIEF_MISSED":
            receipt = self._receipt(r, mid, "equipment", 24000, vat=True)
            r.lines.append(Line(mid, -24000, receipt["supplier"].upper(), "POS"))
            r.provision[5]["costed_vat"] = "inclusive"  # so that only the missed relief is planted here
        elif anomaly == "VAT_COSTING_SHORTFALL":
            receipt = self._receipt(r, mid, "activities", 3000, vat=True, line_id="L2")
            r.provision[1]["costed_vat"] = "exclusive"
            r.lines.append(Line(mid, -3000, receipt["supplier"].upper(), "POS"))
        elif anomaly == "REVIEW_OVERDUE":
            r.agreement["last_review_date"] = (p.end - timedelta(days=400)).isoformat()
        elif anomaly == "INPUT_REJECTED":
            r.extra_files["statement_scan.pdf"] = b"%PDF-1.4 not a bank export"
            day = p.start.isoformat()  # a file of two receipts: one rejected (its gross is not money), one used
            r.extra_files["receipts_handwritten.csv"] = (
                f"receipt_id,date,supplier,gross\nHW1,{day},Corner Shop,see scan\nHW2,{day},Corner Shop,4.20\n".encode())
        else:
            raise ValueError(f"unknown anomaly {anomaly}")

    def _period_receipt(self, r: Recipient, category: str) -> dict:
        return next(receipt for receipt in r.receipts if receipt["category"] == category and receipt["date"] >= self.period.start.isoformat())


def _csv_bytes(rows: list[dict], header: list[str] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header or list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


# -- statement writers -----------------------------------------------------------------------
def _balanced(lines: list[Line], opening: int) -> list[tuple[Line, int]]:
    balance, out = opening, []
    for line in lines:
        balance += line.amount
        out.append((line, balance))
    return out


def _ofx(lines: list[tuple[Line, int]], account: str, start: date, end: date, xml: bool) -> bytes:
    def day(d: date) -> str:
        return d.strftime("%Y%m%d") + "120000"

    close = (lambda tag: f"</{tag}>") if xml else (lambda tag: "")
    body = []
    for line, _ in lines:
        body.append(
            f"<STMTTRN><TRNTYPE>{line.kind}{close('TRNTYPE')}<DTPOSTED>{day(line.day)}{close('DTPOSTED')}"
            f"<TRNAMT>{pounds(line.amount)}{close('TRNAMT')}<FITID>{line.fitid}{close('FITID')}"
            f"<NAME>{line.counterparty[:32]}{close('NAME')}" + (f"<SIC>{line.mcc}{close('SIC')}" if line.mcc else "") + "</STMTTRN>"
        )
    ledger = lines[-1][1] if lines else 0
    ofx = (
        f"<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0{close('CODE')}<SEVERITY>INFO{close('SEVERITY')}</STATUS>"
        f"<DTSERVER>{day(end)}{close('DTSERVER')}<LANGUAGE>ENG{close('LANGUAGE')}</SONRS></SIGNONMSGSRSV1>"
        f"<BANKMSGSRSV1><STMTTRNRS><TRNUID>1{close('TRNUID')}<STATUS><CODE>0{close('CODE')}<SEVERITY>INFO{close('SEVERITY')}</STATUS>"
        f"<STMTRS><CURDEF>GBP{close('CURDEF')}<BANKACCTFROM><BANKID>309634{close('BANKID')}<ACCTID>{account}{close('ACCTID')}"
        f"<ACCTTYPE>CHECKING{close('ACCTTYPE')}</BANKACCTFROM><BANKTRANLIST><DTSTART>{day(start)}{close('DTSTART')}"
        f"<DTEND>{day(end)}{close('DTEND')}\n" + "\n".join(body) + "\n</BANKTRANLIST>"
        f"<LEDGERBAL><BALAMT>{pounds(ledger)}{close('BALAMT')}<DTASOF>{day(end)}{close('DTASOF')}</LEDGERBAL>"
        "</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
    )
    if xml:
        header = '<?xml version="1.0" encoding="UTF-8"?>\n<?OFX OFXHEADER="200" VERSION="211" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\n'
    else:
        header = "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\nCHARSET:1252\nCOMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n"
    return (header + ofx).encode()


def _rows(fmt: str, lines: list[tuple[Line, int]], account: str) -> tuple[list[str], list[list[str]], str]:
    """(header, rows, encoding) of a bank CSV export."""
    uk = lambda d: d.strftime("%d/%m/%Y")  # noqa: E731
    out = lambda amount: pounds(-amount) if amount < 0 else ""  # noqa: E731
    inn = lambda amount: pounds(amount) if amount > 0 else ""  # noqa: E731
    if fmt == "generic":
        return ["Date", "Description", "Amount", "Balance"], [[l.day.isoformat(), l.counterparty, pounds(l.amount), pounds(b)] for l, b in lines], "utf-8"
    if fmt == "lloyds":
        rows = [[uk(l.day), "DEB" if l.amount < 0 else "FPI", "'30-96-34", account, l.counterparty, out(l.amount), inn(l.amount), pounds(b)] for l, b in lines]
        return ["Transaction Date", "Transaction Type", "Sort Code", "Account Number", "Transaction Description", "Debit Amount", "Credit Amount", "Balance", ""], list(reversed(rows)), "utf-8"
    if fmt == "nationwide":
        money = lambda v: f"£{v}" if v else ""  # noqa: E731
        return ["Date", "Transaction type", "Description", "Paid out", "Paid in", "Balance"], [
            [l.day.strftime("%d %b %Y"), "Visa purchase" if l.amount < 0 else "Transfer from", l.counterparty, money(out(l.amount)), money(inn(l.amount)), f"£{pounds(b)}"] for l, b in lines], "cp1252"
    if fmt == "nationwide_midata":
        signed = lambda v: ("-£" if v < 0 else "+£") + pounds(abs(v))  # noqa: E731
        return ["Date", "Type", "Merchant/Description", "Debit/Credit", "Balance"], [
            [uk(l.day), "Payment" if l.amount < 0 else "Bank credit", l.counterparty, signed(l.amount), f"£{pounds(b)}"] for l, b in lines], "cp1252"
    if fmt == "starling":
        return ["Date", "Counter Party", "Reference", "Type", "Amount (GBP)", "Balance (GBP)", "Spending Category"], [
            [uk(l.day), l.counterparty, "", "CARD" if l.amount < 0 else "FASTER PAYMENT", pounds(l.amount), pounds(b), "GENERAL"] for l, b in lines], "utf-8"
    if fmt == "monzo":
        return ["Transaction ID", "Date", "Time", "Type", "Name", "Emoji", "Category", "Amount", "Currency", "Local amount", "Local currency", "Notes and #tags", "Address", "Receipt", "Description", "Category split", "Money Out", "Money In"], [
            [l.fitid, uk(l.day), "12:00:00", "Card payment", l.counterparty, "", "general", pounds(l.amount), "GBP", pounds(l.amount), "GBP", "", "", "", "", "", out(l.amount), inn(l.amount)] for l, _ in lines], "utf-8"
    if fmt == "natwest":
        return ["Date", "Type", "Description", "Value", "Balance", "Account Name", "Account Number"], [
            [l.day.strftime("%d %b %Y"), "POS" if l.amount < 0 else "BAC", l.counterparty, pounds(l.amount), pounds(b), "DP ACCOUNT", f"'60-00-01-{account}"] for l, b in lines], "utf-8"
    if fmt == "santander":
        return ["Date", "Description", "Money in", "Money out", "Balance"], [[uk(l.day), l.counterparty, inn(l.amount), out(l.amount), pounds(b)] for l, b in lines], "utf-8"
    if fmt == "barclays":
        return ["Number", "Date", "Account", "Amount", "Subcategory", "Memo"], [
            ["", uk(l.day), f"20-00-00 {account}", pounds(l.amount), "PAYMENT" if l.amount < 0 else "CREDIT", l.counterparty] for l, _ in lines], "utf-8"
    if fmt == "prepaid_card":
        return ["Transaction Date", "Card Number", "Merchant", "MCC", "Description", "Amount", "Balance", "Transaction ID"], [
            [uk(l.day), "************4821", l.counterparty, l.mcc or ("4121" if "TAXI" in l.counterparty or "CAB" in l.counterparty else ""), "", pounds(l.amount), pounds(b), l.fitid] for l, b in lines], "utf-8"
    if fmt == "hsbc":
        return [], [[uk(l.day), l.counterparty, pounds(l.amount)] for l, _ in lines], "utf-8"
    raise ValueError(fmt)


def _statement_bytes(fmt: str, lines: list[tuple[Line, int]], account: str, start: date, end: date) -> tuple[str, bytes]:
    if fmt in ("ofx_sgml", "ofx_xml"):
        return ("ofx" if fmt == "ofx_sgml" else "qfx"), _ofx(lines, account, start, end, xml=fmt == "ofx_xml")
    header, rows, encoding = _rows(fmt, lines, account)
    out = io.StringIO()
    if fmt == "nationwide":
        out.write('"Account Name:","Direct payment account ****{}"\r\n"Account Balance:","£{}"\r\n\r\n'.format(account[-5:], pounds(lines[-1][1] if lines else 0)))
    if fmt == "nationwide_midata":
        out.write('"Account Number:","****{}"\r\n\r\n'.format(account[-5:]))
    writer = csv.writer(out, lineterminator="\r\n" if fmt.startswith("nationwide") else "\n",
                        quoting=csv.QUOTE_ALL if fmt.startswith("nationwide") else csv.QUOTE_MINIMAL)
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    if fmt == "nationwide_midata":
        out.write('\r\n"Arranged Overdraft Limit","{}","£0.00"\r\n'.format(end.strftime("%d/%m/%Y")))
    return "csv", out.getvalue().encode(encoding)


def write_recipient_files(r: Recipient, council: Council, inbound: Path) -> None:
    lines = sorted(r.lines, key=lambda line: (line.day, -line.amount, line.counterparty))
    for number, line in enumerate(lines):
        line.fitid = line.fitid or f"{r.rid}{line.day.strftime('%Y%m%d')}{number:04d}"
    balanced = _balanced(lines, r.opening)
    overlap_start = council.period.start - timedelta(days=3)
    windows = [(council.previous.start, council.previous.end, council.previous.label)]
    if not r.drop_current_statement:
        windows.append((overlap_start, council.period.end, council.period.label))
    folder = inbound / "statements" / r.rid
    folder.mkdir(parents=True, exist_ok=True)
    for start, end, label in windows:
        part = [(line, balance) for line, balance in balanced if start <= line.day <= end]
        if r.break_balance and label == council.period.label and len(part) > 4:
            del part[len(part) // 2]  # a line missing from the statement: balances no longer chain
        suffix, data = _statement_bytes(r.fmt, part, r.statement_account, start, end)
        (folder / f"statement_{label}.{suffix}").write_bytes(data)
    receipts_folder = inbound / "receipts" / r.rid
    receipts_folder.mkdir(parents=True, exist_ok=True)
    (receipts_folder / "receipts.csv").write_bytes(_csv_bytes(r.receipts))
    payroll_folder = inbound / "payroll" / r.rid
    payroll_folder.mkdir(parents=True, exist_ok=True)
    (payroll_folder / "payslips.csv").write_bytes(_csv_bytes(r.payslips))
    for name, data in r.extra_files.items():
        target = (folder if name.endswith(".pdf") else receipts_folder) / name
        target.write_bytes(data)


def generate(inbound: Path, period: str, recipients: int, anomalies: list[str] | None = None, seed: int = 7,
             notional: int = 1, purchases: int = 2, formats: tuple[str, ...] = FORMATS) -> dict[str, set[str]]:
    """Write a whole inbound folder; returns recipient_id -> rules that must fire for it.

    ``anomalies`` are planted one per recipient, in order, on the first recipients.
    ``formats`` are the statement layouts recipients take in turn (each of FORMATS once by default).
    """
    council = Council(Period.parse(period), seed, purchases, formats)
    if inbound.exists():
        shutil.rmtree(inbound)
    inbound.mkdir(parents=True)
    anomalies = list(anomalies or [])
    people = [council.recipient(index + 1) for index in range(recipients)]
    truth: dict[str, set[str]] = {r.rid: set() for r in people}
    for r, anomaly in zip(people, anomalies):
        council.plant(r, anomaly)
        truth[r.rid] |= ANOMALIES[anomaly]
    for r in people:
        write_recipient_files(r, council, inbound)
    agreements = [r.agreement for r in people]
    for index in range(notional):
        rid = f"NT{index + 1:04d}"
        agreements.append({**people[0].agreement, "recipient_id": rid, "recipient_name": f"{FIRST[index]} Notional",
                           "mechanism": "notional", "account_number": ""})
        truth[rid] = set()
    (inbound / "agreements.csv").write_bytes(_csv_bytes(agreements))
    (inbound / "provision.csv").write_bytes(_csv_bytes([line for r in people for line in r.provision]))
    (inbound / "la_payments.csv").write_bytes(_csv_bytes([payment for r in people for payment in r.la_payments]))
    (inbound / "employees.csv").write_bytes(_csv_bytes([employee for r in people for employee in r.employees]))
    return truth


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic inbound folder.")
    parser.add_argument("--out", type=Path, default=Path("inbound"))
    parser.add_argument("--period", default="2025-06")
    parser.add_argument("--recipients", type=int, default=30)
    parser.add_argument("--anomalies", default="all", help="'all', 'none' or comma-separated rule names")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    chosen = list(ANOMALIES) if args.anomalies == "all" else [] if args.anomalies == "none" else args.anomalies.split(",")
    truth = generate(args.out, args.period, args.recipients, chosen, args.seed)
    print(json.dumps({rid: sorted(rules) for rid, rules in truth.items() if rules}, indent=1))


if __name__ == "__main__":
    main()
