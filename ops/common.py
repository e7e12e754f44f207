"""What every command in ops/ needs: a reason to stop with its exit code, the validated
configuration, an AWS session in the account a command reads, and output files written whole.

The exit codes themselves are config/exit_codes.py's (app.py and policies/ exit with them too);
the synthesized assembly is read by config/cloud_assembly.py.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from config.exit_codes import BAD_INPUT, FAILURE

if TYPE_CHECKING:
    from collections.abc import Iterable

    from boto3.session import Session
    from botocore.exceptions import ClientError
    from mypy_boto3_cloudformation import CloudFormationClient

    from config.cloud_assembly import CloudAssembly
    from config.model import DeliveryConfig


class CommandError(Exception):
    """Why a command stops, in one line for the person who ran it, and the exit code it means.

    A subclass names its usual code; ``exit_code`` overrides it for one occasion.
    """

    exit_code: int = FAILURE

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigurationError(CommandError):
    """The environment file is not valid, or has no environment of the name a command got."""

    exit_code = BAD_INPUT


def checked_config(*, environment: str | None = None) -> DeliveryConfig:
    """The validated environment file, which has ``environment`` when one is named; else a
    ConfigurationError saying, in one line, what is wrong."""
    # Imported here: the commands that never read the file do not load pydantic.
    from config.model import ConfigError, config_file, load_config  # noqa: PLC0415

    try:
        config = load_config(config_file())
    except ConfigError as error:
        raise ConfigurationError(str(error)) from None
    if environment is not None and environment not in {env.name for env in config.environments}:
        names = ", ".join(env.name for env in config.environments)
        raise ConfigurationError(f"no environment named {environment!r} (environments: {names})")
    return config


def cloud_assembly_or_exit(path: Path, *, command: str) -> CloudAssembly:
    """The cloud assembly in ``path``, or "<command>: ... run make synth first" on stderr and
    exit BAD_INPUT: every command that reads cdk.out says the same thing when it is missing."""
    from config.cloud_assembly import AssemblyNotFoundError, read_cloud_assembly  # noqa: PLC0415

    try:
        return read_cloud_assembly(path)
    except AssemblyNotFoundError as error:
        print(f"{command}: {error}", file=sys.stderr)
        raise SystemExit(BAD_INPUT) from None


def load_config_or_exit(*, environment: str | None = None) -> DeliveryConfig:
    """``checked_config``, or its one-line reason on stderr and exit BAD_INPUT, as argparse
    exits for a bad flag: ``main`` functions call it right after parsing their arguments."""
    try:
        return checked_config(environment=environment)
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(error.exit_code) from None


def aws_session(*, region: str, role_arn: str | None = None, session_name: str = "ops") -> Session:
    """A boto3 session in ``region``: the caller's credentials, or ``role_arn``'s when given.

    The role is assumed with the caller's credentials (the lookup role of another account, for
    a command that reads what is deployed there); ``session_name`` shows in its CloudTrail.
    """
    import boto3  # noqa: PLC0415 - the commands that never call AWS do not load it

    session = boto3.session.Session(region_name=region)
    if role_arn is None:
        return session
    credentials = session.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name)[
        "Credentials"
    ]
    return boto3.session.Session(
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def cloudformation_clients(
    session: Session, regions: Iterable[str]
) -> dict[str, CloudFormationClient]:
    """One CloudFormation client per region of ``regions``, all with ``session``'s credentials:
    an environment's stacks are not all in its region (the edge stack is in us-east-1)."""
    return {region: session.client("cloudformation", region_name=region) for region in set(regions)}


def write_atomically(path: Path, text: str) -> None:
    """``path`` holds ``text`` whole, or is left as it was: readers never see half a report.

    The text goes to a new file beside ``path`` (same file system, created with the process's
    umask like any other file), which then replaces it; a failure removes the new file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def is_missing_stack(error: ClientError) -> bool:
    """Whether CloudFormation refused a call because the stack does not exist (yet).

    CloudFormation has no error code of its own for this: it answers ``ValidationError`` with
    "Stack with id <name> does not exist", and the same code for every other bad request.
    """
    response = error.response.get("Error", {})
    return response.get("Code") == "ValidationError" and "does not exist" in str(
        response.get("Message", "")
    )
