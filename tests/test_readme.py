"""The README's quick start stays true: two commands, and CI runs the test one verbatim."""

import re

from tests.conftest import ROOT


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```\n(.+?)\n```", section)


def test_quick_start_has_exactly_two_commands():
    commands = quick_start_commands()
    assert len(commands) == 2
    assert "dpmon run --period" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert quick_start_commands()[1] in ci


def test_sample_period_in_readme_matches_the_sample_data():
    period = re.search(r"--period (\d{4}-\d{2})", quick_start_commands()[0]).group(1)
    payments = (ROOT / "inbound" / "la_payments.csv").read_text()
    assert f",{period}-" in payments


def test_the_readme_policy_example_is_a_policy_dpmon_takes(tmp_path):
    from pipeline.policy import load_policy

    text = (ROOT / "README.md").read_text().split("## Policy", 1)[1]
    [example] = re.findall(r"```toml\n(.+?)\n```", text, re.S)
    (tmp_path / "policy.toml").write_text(example)
    policy = load_policy(tmp_path / "policy.toml")
    assert policy.default_contingency_weeks_x100 == 600 and policy.high_value_annual_pence == 3_000_000
