from pathlib import Path

import pytest

from pipeline.policy import PolicyError, load_policy


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def test_defaults_are_the_contracts():
    policy = load_policy()
    assert policy.date_window_days == 7
    assert policy.surplus_minimum_pence == 5000
    assert policy.default_contingency_weeks_x100 == 800
    assert policy.overspend_tolerance_bp == 1000
    assert policy.bank_charge_max_pence == 1000
    assert policy.vat_tolerance_pence == 2
    assert policy.vat_rates_bp == (2000, 500, 0)
    assert policy.vat_exempt_categories == ("agency_care", "therapy", "respite")
    assert policy.vat_relief_categories == ("equipment",)
    assert policy.high_value_annual_pence == 2500000
    assert policy.unevidenced_share_bp == 2000
    assert policy.recovery_threshold_pence == 100000
    assert policy.prohibited_classes == ("gambling", "alcohol", "tobacco", "school_fees")
    assert policy.merchants["gambling"].mcc == ("7800", "7801", "7802", "7995")
    assert "WILLIAM HILL" in policy.merchants["gambling"].patterns
    assert policy.merchants["cash"].trntypes == ("ATM",)
    assert policy.merchants["bank_charge"].trntypes == ("SRVCHG", "FEE")
    assert policy.max_file_bytes == 200 * 1024 * 1024


def test_overrides_replace_only_what_they_name(tmp_path):
    policy = load_policy(write(tmp_path, '[matching]\ndate_window_days = 3\n[surplus]\nminimum = 25.5\n'
                                         '[merchants.gambling]\npatterns = ["LUCKY DICE"]\n'))
    assert policy.date_window_days == 3
    assert policy.surplus_minimum_pence == 2550
    assert policy.merchants["gambling"].patterns == ("LUCKY DICE",)
    assert policy.merchants["gambling"].mcc == ("7800", "7801", "7802", "7995")
    assert policy.vat_tolerance_pence == 2


def test_a_council_can_add_a_prohibited_class(tmp_path):
    policy = load_policy(write(tmp_path, '[merchants]\nprohibited = ["gambling", "crypto"]\n[merchants.crypto]\npatterns = ["COINBASE"]\n'))
    assert policy.prohibited_classes == ("gambling", "crypto")


def test_a_council_can_stop_prohibiting_a_built_in_class(tmp_path):
    policy = load_policy(write(tmp_path, '[merchants]\nprohibited = ["alcohol"]\n[merchants.gambling]\npatterns = ["BET365"]\n'))
    assert policy.prohibited_classes == ("alcohol",) and policy.merchants["gambling"].patterns == ("BET365",)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[matching]\ndate_window = 3\n", "unknown policy key 'matching.date_window'"),
        ("[surplus]\nminimum = \"lots\"\n", "'surplus.minimum' must be a number, got 'lots'"),
        ("[surplus]\nminimum = 1.234\n", "'surplus.minimum' must be money with at most 2 decimals"),
        ("[matching]\ndate_window_days = -1\n", "'matching.date_window_days' must be a whole number from 0 to 366, got -1"),
        ("[vat]\nrates = []\n", "'vat.rates' must be a list of at least one rate"),
        ("[matching]\ndate_window_days = 1000000\n", "'matching.date_window_days' must be a whole number from 0 to 366"),
        ("[provision]\noverspend_tolerance = \"ten\"\n", "'provision.overspend_tolerance' must be a number, got 'ten'"),
        ("[merchants]\nprohibited = [\"casino\"]\n", "'merchants.prohibited' names 'casino', which has no [merchants.casino] table"),
        ("[merchants.gambling]\npattern = [\"X\"]\n", "unknown policy key 'merchants.gambling.pattern'"),
        # a red team's classes that prohibited nothing, silently
        ("[merchants.crypto]\npatterns = [\"COINBASE\"]\n",
         "'[merchants.crypto]' is used by no rule: add 'crypto' to 'merchants.prohibited' to prohibit it"),
        ("[merchants.Gambling]\npatterns = [\"GAMBLECO\"]\n",
         "'[merchants.Gambling]' is used by no rule: class names are lower case, as 'merchants.prohibited' names them ('gambling')"),
        ("[vat\n", "not valid TOML"),
        # beyond what agreements may hold: "1e26" failed with a traceback, "1e30" weeks overflowed pence silently
        ("[surplus]\nminimum = \"1e26\"\n", "'surplus.minimum' must be at most £1,000,000,000, got '1e26'"),
        ("[surplus]\ncontingency_weeks = \"1e30\"\n", "'surplus.contingency_weeks' must be at most 52, got '1e30'"),
        ("[surplus]\ncontingency_weeks = 53\n", "'surplus.contingency_weeks' must be at most 52, got 53"),
        ("[provision]\noverspend_tolerance = \"1e9%\"\n", "'provision.overspend_tolerance' must be at most 10,000, got '1e9'"),
        ("[vat]\nexempt_categories = [\"agency_car\"]\n", "'vat.exempt_categories' must be provision categories (personal_assistant, "),
        ("[provision]\noverspend_tolerance = \"10\"\n", "'provision.overspend_tolerance' must be a share like \"10%\" or 0.10 (a number without % is a fraction of 1), got '10'"),
    ],
)
def test_bad_policy_is_refused_naming_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_money_may_be_written_with_thousands_commas_but_not_a_decimal_comma(tmp_path):
    assert load_policy(write(tmp_path, '[monitoring]\nhigh_value_annual = "£30,000.00"\n')).high_value_annual_pence == 3000000
    with pytest.raises(PolicyError, match="'surplus.minimum' must be a number, got '5,00'"):
        load_policy(write(tmp_path, '[surplus]\nminimum = "5,00"\n'))


def test_shares_accept_percent_or_fraction(tmp_path):
    assert load_policy(write(tmp_path, '[monitoring]\nunevidenced_share = 0.25\n')).unevidenced_share_bp == 2500
    assert load_policy(write(tmp_path, '[monitoring]\nunevidenced_share = "12.5%"\n')).unevidenced_share_bp == 1250
    assert load_policy(write(tmp_path, '[provision]\noverspend_tolerance = "150%"\n')).overspend_tolerance_bp == 15000


def test_a_policy_file_that_is_not_utf8_is_refused_naming_it(tmp_path):
    path = tmp_path / "p.toml"
    path.write_bytes(b"[surplus]\nminimum = \"50.00\" # \xa3\n")
    with pytest.raises(PolicyError, match=f"^{path}: not UTF-8 text: save the policy file as UTF-8$"):
        load_policy(path)
