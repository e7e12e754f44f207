"""What every command shares: its reasons to stop, the configuration, sessions, whole files."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from moto import mock_aws

from config import model as config_model
from config.exit_codes import BAD_INPUT, FAILURE
from config.model import ConfigError, DeliveryConfig
from ops.common import (
    CommandError,
    ConfigurationError,
    aws_session,
    checked_config,
    is_missing_stack,
    load_config_or_exit,
    write_atomically,
)
from ops.drift.detect import main as drift_main
from ops.images.start_check import main as start_check_main
from ops.review.change_report import main as change_report_main

ACCOUNT = "123456789012"


# ---------------------------------------------------------------- write_atomically
def test_reports_are_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "out/report.md"
    write_atomically(target, "one\n")
    write_atomically(target, "two\n")
    assert target.read_text() == "two\n"
    assert [p.name for p in target.parent.iterdir()] == ["report.md"]


def test_a_write_that_fails_halfway_leaves_the_old_report_and_nothing_else(
    tmp_path: Path,
) -> None:
    target = tmp_path / "report.md"
    target.write_text("the last good report\n")
    # The first half is written before the unencodable character stops the write.
    with pytest.raises(UnicodeEncodeError):
        write_atomically(target, "x" * 100_000 + "\ud800")
    assert target.read_text() == "the last good report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_a_failed_replace_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "drift.json"

    def refuse(_path: Path, other: Path) -> Path:
        raise PermissionError(f"cannot replace {other}")

    monkeypatch.setattr(Path, "replace", refuse)
    with pytest.raises(PermissionError):
        write_atomically(target, "{}\n")
    assert list(tmp_path.iterdir()) == []


def test_a_new_report_gets_the_permissions_of_any_new_file(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        write_atomically(tmp_path / "report.md", "text\n")
    finally:
        os.umask(previous)
    # Readable by the artifact upload and the next step, as a plain write would leave it.
    assert stat.S_IMODE((tmp_path / "report.md").stat().st_mode) == 0o644


# ---------------------------------------------------------------- CommandError
def test_a_command_error_means_failure_unless_its_kind_or_the_occasion_says_otherwise() -> None:
    class BadFlagError(CommandError):
        exit_code = BAD_INPUT

    assert CommandError("git push failed").exit_code == FAILURE
    assert CommandError("no such commit", exit_code=BAD_INPUT).exit_code == BAD_INPUT
    assert BadFlagError("bad").exit_code == BAD_INPUT
    assert BadFlagError("conflict", exit_code=FAILURE).exit_code == FAILURE
    assert str(BadFlagError("one line")) == "one line"


# ---------------------------------------------------------------- configuration
def test_the_shipped_file_loads_and_names_its_environments(config: DeliveryConfig) -> None:
    assert checked_config() == config
    first = config.environments[0].name
    assert load_config_or_exit(environment=first).environment(first).name == first


def test_an_unknown_environment_is_one_line_naming_the_known_ones(
    config: DeliveryConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ", ".join(env.name for env in config.environments)
    with pytest.raises(ConfigurationError) as unknown:
        checked_config(environment="qa")
    assert unknown.value.exit_code == BAD_INPUT
    with pytest.raises(SystemExit) as exited:
        load_config_or_exit(environment="qa")
    assert exited.value.code == BAD_INPUT
    assert capsys.readouterr().err == (
        f"error: no environment named 'qa' (environments: {names})\n"
    )


def test_the_commands_read_the_file_delivery_config_names_as_the_synthesis_does(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shipped = config_model.DEFAULT_CONFIG_FILE.read_text(encoding="utf-8")
    other = tmp_path / "environments.toml"
    other.write_text(shipped.replace('name = "todo"', 'name = "demo"', 1), encoding="utf-8")
    monkeypatch.setenv(config_model.CONFIG_FILE_VARIABLE, str(other))

    assert config_model.config_file() == other
    assert checked_config().project.name == "demo"


def test_a_broken_file_is_its_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(_path: Path) -> DeliveryConfig:
        raise ConfigError("config/environments.toml: not valid TOML: at line 3")

    monkeypatch.setattr(config_model, "load_config", broken)
    with pytest.raises(SystemExit) as exited:
        load_config_or_exit()
    assert exited.value.code == BAD_INPUT
    assert capsys.readouterr().err == (
        "error: config/environments.toml: not valid TOML: at line 3\n"
    )


# ---------------------------------------------------------------- aws_session
@pytest.fixture
def caller(monkeypatch: pytest.MonkeyPatch) -> str:
    """The credentials of the one running the command (the pipeline's role, a developer)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACALLER000000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "caller-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return "AKIACALLER000000000"


def test_without_a_role_the_session_is_the_callers_in_the_region(caller: str) -> None:
    session = aws_session(region="eu-central-1")
    assert session.region_name == "eu-central-1"
    credentials = session.get_credentials()
    assert credentials is not None and credentials.access_key == caller


def test_with_a_role_the_session_holds_the_roles_credentials(caller: str) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/cdk-hnb659fds-lookup-role-{ACCOUNT}-eu-west-1"
    with mock_aws():
        session = aws_session(region="eu-west-1", role_arn=role, session_name="bake-dev")
        credentials = session.get_credentials()
        assert credentials is not None
        assert credentials.access_key != caller and credentials.token
        identity = session.client("sts").get_caller_identity()
        assert session.region_name == "eu-west-1"
        # The role assumed, under the session name CloudTrail shows.
        assert identity["Arn"] == (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.rsplit('/', 1)[1]}/bake-dev"
        )


# ---------------------------------------------------------------- CloudFormation answers
def test_only_cloudformations_missing_stack_answer_counts_as_a_missing_stack() -> None:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    def answer(code: str, message: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": message}}, "GetTemplate")

    assert is_missing_stack(answer("ValidationError", "Stack with id todo-dev-data does not exist"))
    assert not is_missing_stack(answer("ValidationError", "Template format error"))
    assert not is_missing_stack(answer("AccessDenied", "Role todo does not exist"))


# ---------------------------------------------------------------- the cloud assembly


@pytest.mark.parametrize(
    ("main", "argv", "command"),
    [
        (drift_main, ["--out", "report.md", "--assembly"], "drift"),
        (
            change_report_main,
            ["--environment", "dev", "--out", "report.md", "--assembly"],
            "change report",
        ),
        (start_check_main, ["--service", "api", "--image", "x", "--assembly"], "start check"),
    ],
)
def test_every_command_that_reads_cdk_out_says_the_same_when_it_is_missing(
    main: Callable[[list[str]], int],
    argv: list[str],
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, str(tmp_path)])
    assert exited.value.code == BAD_INPUT
    assert capsys.readouterr().err == (
        f"{command}: {tmp_path}/manifest.json not found: run make synth first\n"
    )
