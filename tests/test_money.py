from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.money import format_pounds, parse_pence, pence_from_decimal, pence_of_text, round_div


def parse(*texts):
    return pl.DataFrame({"t": list(texts)}, schema={"t": pl.String}).select(parse_pence(pl.col("t")).alias("p"))["p"].to_list()


@pytest.mark.parametrize(
    "text, pence",
    [("1234.5", 123450), ("1,234.50", 123450), ("£1,234.50", 123450), ("(12.00)", -1200), ("-£5.00", -500),
     ("£-5.00", -500), ("+£3.20", 320), ("0.5", 50), (" 12 ", 1200), ("Â£3.00", 300), ("1,234,567.89", 123456789)],
)
def test_contract_spellings_parse(text, pence):
    assert parse(text) == [pence]
    assert pence_of_text(text) == pence  # the one-string reading (messages, policy) says the same


@pytest.mark.parametrize("text", ["", "abc", "12.345", "1,23.00", "(-5)", "--5", "1.", "£", "1e3", "12,34", "١٢.٣٤", "１２"])
def test_not_money_is_null(text):
    assert parse(text) == [None]


@given(st.integers(min_value=-10**13, max_value=10**13))
def test_pence_format_parse_round_trip(pence):
    text = pl.DataFrame({"p": [pence]}).select(format_pounds(pl.col("p")).alias("f"))["f"][0]
    assert parse(text) == [pence]
    assert text.count(".") == 1 and len(text.split(".")[1]) == 2


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(["£{}", "{}", "({})", "-£{}", "£-{}"]))
def test_spellings_with_thousands_round_trip(pence, template):
    body = f"{pence // 100:,}.{pence % 100:02d}"
    negative = template.startswith("(") or "-" in template
    assert parse(template.format(body)) == [-pence if negative else pence]


@pytest.mark.parametrize("value, pence", [("-30.000", -3000), ("-3.77000", -377), ("1.234", None), ("10", 1000),
                                          ("9999999999999.99", 999999999999999), ("-1E13", None), ("1E30", None)])
def test_pence_from_decimal_is_exact_or_refuses(value, pence):
    assert pence_from_decimal(Decimal(value)) == pence


@given(st.integers(min_value=-10**9, max_value=10**9), st.integers(min_value=1, max_value=10**4))
def test_round_div_is_half_away_from_zero(numerator, denominator):
    got = pl.DataFrame({"n": [numerator]}).select(round_div(pl.col("n"), denominator).alias("r"))["r"][0]
    expected = int((Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), rounding="ROUND_HALF_UP"))
    assert got == expected


MONEYISH = st.text(alphabet=st.sampled_from(list("0123456789,.()+-£GBPÂ \u00a0\t\u2009\x1c١")), max_size=16)


@given(st.lists(st.one_of(MONEYISH, st.text(max_size=12)), min_size=1, max_size=30))
def test_one_string_parse_agrees_with_the_column_parse(texts):
    column = pl.DataFrame({"t": texts}, schema={"t": pl.String}).select(parse_pence(pl.col("t")).alias("p"))["p"].to_list()
    assert [pence_of_text(text) for text in texts] == column


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_sterling_in_letters_is_the_csv_amount_with_a_pound_sign_and_thousands(pence):
    from pipeline.money import pounds_text, sterling

    shown = sterling(pence)
    assert shown.replace("£", "").replace(",", "") == pounds_text(pence)
    assert shown.startswith("-£" if pence < 0 else "£")
    assert sterling(-123456) == "-£1,234.56" and sterling(5) == "£0.05"
