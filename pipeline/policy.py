"""The policy in force: contract defaults, overridden by a council's TOML file.

Read once at the start of a run and passed down as a frozen value. Money and
shares are held exactly (pence, basis points); a bad file is refused with a
message naming the key, so a finance officer can fix it without reading code.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pipeline.ingest.records import CATEGORIES

DEFAULT_POLICY_FILE = Path(__file__).with_name("default_policy.toml")

# The merchant classes the rules themselves rely on; councils may add more
# prohibited classes but not remove these names.
REQUIRED_CLASSES = ("cash", "hmrc", "pension", "bank_charge")
# the largest a policy may say, as agreements may (expectations/agreements.json): larger, pence overflow
MAX_POUNDS = Decimal(1_000_000_000)
MAX_WEEKS = Decimal(52)
MAX_SHARE = Decimal(100)  # 10,000%
_MERCHANT_KEYS = {"patterns", "mcc", "trntypes"}


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class MerchantClass:
    name: str
    patterns: tuple[str, ...] = ()
    mcc: tuple[str, ...] = ()
    trntypes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    date_window_days: int
    surplus_minimum_pence: int
    default_contingency_weeks_x100: int
    overspend_tolerance_bp: int
    bank_charge_max_pence: int
    vat_tolerance_pence: int
    vat_rates_bp: tuple[int, ...]
    vat_exempt_categories: tuple[str, ...]
    vat_relief_categories: tuple[str, ...]
    high_value_annual_pence: int
    unevidenced_share_bp: int
    recovery_threshold_pence: int
    notice_days: int
    max_file_bytes: int
    prohibited_classes: tuple[str, ...]
    merchants: dict[str, MerchantClass] = field(hash=False)
    document: dict[str, Any] = field(hash=False, repr=False)  # merged TOML, for the manifest
    source: str = "built-in defaults"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle, parse_float=Decimal)
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: not UTF-8 text: save the policy file as UTF-8") from None


def _merge(base: dict[str, Any], override: dict[str, Any], where: str, origin: str) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        name = f"{where}.{key}" if where else key
        if key not in base and not where.startswith("merchants"):
            raise PolicyError(f"{origin}: unknown policy key '{name}'")
        if isinstance(base.get(key), dict):
            if not isinstance(value, dict):
                raise PolicyError(f"{origin}: '{name}' must be a table, got {value!r}")
            merged[key] = _merge(base[key], value, name, origin)
        else:
            merged[key] = value
    return merged


class _Reader:
    """Typed access to the merged document, with errors naming the key."""

    def __init__(self, document: dict[str, Any], origin: str):
        self.document = document
        self.origin = origin

    def _get(self, key: str) -> Any:
        node: Any = self.document
        for part in key.split("."):
            node = node[part]
        return node

    def fail(self, key: str, expected: str, value: Any) -> PolicyError:
        return PolicyError(f"{self.origin}: '{key}' must be {expected}, got {value!r}")

    def whole(self, key: str, minimum: int = 0, maximum: int = 10_000) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise self.fail(key, f"a whole number from {minimum} to {maximum}", value)
        return value

    def _decimal(self, key: str, value: Any, maximum: Decimal, unit: str = "") -> Decimal:
        if isinstance(value, bool):
            raise self.fail(key, "a number", value)
        text = str(value).strip().lstrip("£").strip()
        if re.fullmatch(r"[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?", text):  # thousands written with commas: "25,000.00"
            text = text.replace(",", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise self.fail(key, "a number", value) from None
        if not number.is_finite() or number < 0:
            raise self.fail(key, "a non-negative number", value)
        if number > maximum:  # beyond it, pence overflow 64 bits (or Decimal's precision) and the sums are wrong
            raise self.fail(key, f"at most {unit}{maximum:,}", value)
        return number

    def pence(self, key: str) -> int:
        value = self._get(key)
        number = self._decimal(key, value, MAX_POUNDS, "£")
        if number != number.quantize(Decimal("0.01")):
            raise self.fail(key, 'money with at most 2 decimals, like "50.00"', value)
        return int(number * 100)

    def basis_points(self, key: str, value: Any = None) -> int:
        """A share as "10%" or 0.10, held as basis points (1000 = 10%)."""
        value = self._get(key) if value is None else value
        text = str(value).strip()
        if text.endswith("%"):
            number = self._decimal(key, text[:-1], MAX_SHARE * 100) * 100
        else:
            fraction = self._decimal(key, text, MAX_SHARE)
            if fraction > 1:  # "10" meant 10%, not 1000%: more than the whole is written with %
                raise self.fail(key, 'a share like "10%" or 0.10 (a number without % is a fraction of 1)', value)
            number = fraction * 10000
        if number != number.to_integral_value():
            raise self.fail(key, 'a share like "10%" or 0.10 (to 0.01%)', value)
        return int(number)

    def weeks_x100(self, key: str) -> int:
        value = self._get(key)
        number = self._decimal(key, value, MAX_WEEKS) * 100
        if number != number.to_integral_value():
            raise self.fail(key, "a number of weeks with at most 2 decimals", value)
        return int(number)

    def words(self, key: str, lower: bool = False) -> tuple[str, ...]:
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(key, "a list of text", value)
        items = [item.strip() for item in value]
        return tuple(item.lower() if lower else item.upper() for item in items if item)


def _merchant_classes(reader: _Reader) -> dict[str, MerchantClass]:
    classes: dict[str, MerchantClass] = {}
    for name, table in reader.document["merchants"].items():
        if name == "prohibited":
            continue
        if not isinstance(table, dict):
            raise reader.fail(f"merchants.{name}", "a table of patterns, mcc and trntypes", table)
        unknown = set(table) - _MERCHANT_KEYS
        if unknown:
            raise PolicyError(f"{reader.origin}: unknown policy key 'merchants.{name}.{sorted(unknown)[0]}'")
        classes[name] = MerchantClass(
            name=name,
            **{key: reader.words(f"merchants.{name}.{key}") for key in _MERCHANT_KEYS if key in table},
        )
    return classes


def _rates(reader: _Reader) -> tuple[int, ...]:
    rates = reader._get("vat.rates")
    if not isinstance(rates, list) or not rates:
        raise reader.fail("vat.rates", 'a list of at least one rate, like ["20%", "5%", "0%"]', rates)
    return tuple(reader.basis_points("vat.rates", rate) for rate in rates)


def _categories(reader: _Reader, key: str) -> tuple[str, ...]:
    """Provision categories: a name that is none ("agency_car") would switch its VAT rule off unseen."""
    names = reader.words(key, lower=True)
    unknown = [name for name in names if name not in CATEGORIES]
    if unknown:
        raise reader.fail(key, "provision categories (" + ", ".join(CATEGORIES) + ")", unknown[0])
    return names


def load_policy(path: Path | None = None) -> Policy:
    """The defaults, overridden by ``path`` when given."""
    document = _read_toml(DEFAULT_POLICY_FILE)
    origin = "built-in defaults"
    built_in = set(document["merchants"])
    if path is not None:
        origin = str(path)
        document = _merge(document, _read_toml(path), "", origin)
    reader = _Reader(document, origin)
    merchants = _merchant_classes(reader)
    prohibited = reader.words("merchants.prohibited", lower=True)
    for name in prohibited:
        if name not in merchants:
            raise PolicyError(f"{origin}: 'merchants.prohibited' names '{name}', which has no [merchants.{name}] table")
    for name in REQUIRED_CLASSES:
        if name not in merchants:
            raise PolicyError(f"{origin}: '[merchants.{name}]' is required")
    for name in merchants:  # a class the council added that no rule reads would look like a prohibition and be none
        if name not in prohibited and name not in built_in:
            why = (f"class names are lower case, as 'merchants.prohibited' names them ('{name.lower()}')" if name != name.lower()
                   else f"add '{name}' to 'merchants.prohibited' to prohibit it")
            raise PolicyError(f"{origin}: '[merchants.{name}]' is used by no rule: {why}")
    return Policy(
        date_window_days=reader.whole("matching.date_window_days", maximum=366),
        surplus_minimum_pence=reader.pence("surplus.minimum"),
        default_contingency_weeks_x100=reader.weeks_x100("surplus.contingency_weeks"),
        overspend_tolerance_bp=reader.basis_points("provision.overspend_tolerance"),
        bank_charge_max_pence=reader.pence("bank_charges.max_each"),
        vat_tolerance_pence=reader.pence("vat.tolerance"),
        vat_rates_bp=_rates(reader),
        vat_exempt_categories=_categories(reader, "vat.exempt_categories"),
        vat_relief_categories=_categories(reader, "vat.relief_categories"),
        high_value_annual_pence=reader.pence("monitoring.high_value_annual"),
        unevidenced_share_bp=reader.basis_points("monitoring.unevidenced_share"),
        recovery_threshold_pence=reader.pence("monitoring.recovery_threshold"),
        notice_days=reader.whole("notices.days_to_respond", minimum=1),
        max_file_bytes=reader.whole("inbound.max_file_mb", minimum=1) * 1024 * 1024,
        prohibited_classes=prohibited,
        merchants=merchants,
        document=document,
        source=origin,
    )
