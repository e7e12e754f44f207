"""Verify: checks, bake, record in that order; the record only after both passed; timed."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from config.exit_codes import BAD_INPUT, FAILURE, NO_HEALTH_ALARMS, SUCCESS
from ops.release import bake, record, verify
from ops.release.verify import Part
from tests.support.clock import FakeClock

ARGS = ["--environment", "staging", "--markers", "smoke or contract", "--minutes", "10"]


class Calls:
    """Fakes of the three parts that note what ran, with what, and what it returned."""

    def __init__(self, *, checks: int = SUCCESS, baked: int = SUCCESS, recorded: int = SUCCESS):
        self.codes = {"checks": checks, "bake": baked, "record": recorded}
        self.ran: list[tuple[str, object]] = []

    def part(self, name: str) -> Callable[..., int]:
        def run(*args: object, **kwargs: object) -> int:
            self.ran.append((name, args[0] if args else kwargs))
            code = self.codes[name]
            if code == BAD_INPUT and name != "checks":
                raise SystemExit(code)  # as load_config_or_exit and argparse end a command
            return code

        return run

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.ran]


@pytest.fixture(autouse=True)
def site(monkeypatch: pytest.MonkeyPatch) -> str:
    url = "https://d111111abcdef8.cloudfront.net"
    monkeypatch.setenv("SITE_URL", url)
    return url


def _patch(monkeypatch: pytest.MonkeyPatch, calls: Calls) -> None:
    monkeypatch.setattr(verify, "run_checks", calls.part("checks"))
    monkeypatch.setattr(bake, "main", calls.part("bake"))
    monkeypatch.setattr(record, "main", calls.part("record"))


def test_all_three_pass_in_order_and_the_record_is_written(
    monkeypatch: pytest.MonkeyPatch, site: str, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = Calls()
    _patch(monkeypatch, calls)
    assert verify.main([*ARGS, "--role-arn", "arn:aws:iam::2:role/lookup"]) == SUCCESS
    assert calls.names == ["checks", "bake", "record"]
    checks_given, bake_given, record_given = (argument for _, argument in calls.ran)
    # Strict: a check that cannot sign its user in fails the action instead of skipping.
    assert checks_given == {"site_url": site, "markers": "smoke or contract", "strict": True}
    assert bake_given == [
        "--environment",
        "staging",
        "--minutes",
        "10.0",
        "--role-arn",
        "arn:aws:iam::2:role/lookup",
    ]
    assert record_given == ["record", "--environment", "staging"]
    out = capsys.readouterr().out
    for name in ("checks", "bake", "record"):
        assert re.search(rf"^verify: {name} +passed in \d+\.\d s$", out, re.MULTILINE), out
    assert re.search(r"^verify staging: verified in \d+\.\d s$", out, re.MULTILINE), out


@pytest.mark.parametrize("code", [FAILURE, BAD_INPUT])
def test_failed_checks_stop_before_the_bake_and_nothing_is_recorded(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], code: int
) -> None:
    calls = Calls(checks=code)
    _patch(monkeypatch, calls)
    assert verify.main(ARGS) == code
    assert calls.names == ["checks"]
    out = capsys.readouterr().out
    assert f"verify: checks  FAILED (exit {code}) in " in out
    assert "verify: bake    skipped" in out
    assert "verify: record  skipped" in out
    assert f"verify staging: NOT verified (exit {code})" in out


@pytest.mark.parametrize("code", [FAILURE, NO_HEALTH_ALARMS, BAD_INPUT])
def test_a_failed_bake_writes_no_record_and_exits_with_its_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], code: int
) -> None:
    calls = Calls(baked=code)
    _patch(monkeypatch, calls)
    assert verify.main(ARGS) == code
    assert calls.names == ["checks", "bake"]
    out = capsys.readouterr().out
    assert f"verify: bake    FAILED (exit {code}) in " in out
    assert "verify: record  skipped" in out


def test_a_failed_record_is_the_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = Calls(recorded=FAILURE)
    _patch(monkeypatch, calls)
    assert verify.main(ARGS) == FAILURE
    assert calls.names == ["checks", "bake", "record"]
    assert "verify: record  FAILED (exit 1) in " in capsys.readouterr().out


def test_each_part_is_timed_on_its_own() -> None:
    clock = FakeClock()
    lines: list[str] = []

    def waits(seconds: float) -> Callable[[], int]:
        def run() -> int:
            clock.sleep(seconds)
            return SUCCESS

        return run

    code, outcomes = verify.verify(
        [Part(name="checks", run=waits(12)), Part(name="bake", run=waits(600))],
        clock=clock,
        report=lines.append,
    )
    assert code == SUCCESS
    assert [(o.name, o.seconds) for o in outcomes] == [("checks", 12), ("bake", 600)]
    assert lines == ["verify: checks  passed in 12.0 s", "verify: bake    passed in 600.0 s"]


def test_an_unknown_environment_is_refused_before_any_part_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = Calls()
    _patch(monkeypatch, calls)
    with pytest.raises(SystemExit) as stopped:
        verify.main(["--environment", "nowhere", "--markers", "smoke", "--minutes", "0"])
    assert stopped.value.code == BAD_INPUT
    assert calls.ran == []
