"""`make new-service NAME=<name> CONSUMES="<event type> ..."`: a new queue consumer, generated.

    python -m ops.new_service --name notifier --consumes todo.created todo.completed

Writes ``services/<name>/`` from ``ops/service_template/`` (a consumer that logs one line per
event, its Dockerfile, its ignore file, its requirements and lock, its dev-stack settings) and
adds the service's registry table and its size in every environment to the environment file.
That is all a new service needs: the constructs, the pipeline, the dev stack and the tooling
loop over the registry and the service folders (docs/adding-a-service.md).

Nothing is written unless everything is valid: the new environment file is validated with the
config model first, and the folder appears in one rename. A bad name, an event type that does
not parse, an existing folder: one line, exit 2, no change.
"""

from __future__ import annotations

import argparse
import re
import shutil
import string
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from config.exit_codes import BAD_INPUT, SUCCESS
from config.model import RESERVED_SERVICE_NAMES, SERVICE_NAME_PATTERN, ConfigError, load_config
from config.paths import ROOT
from ops.common import CommandError, write_atomically

TEMPLATE_DIR = Path(__file__).resolve().parent / "service_template"
TEMPLATE_SUFFIX = ".tmpl"
_NAME = re.compile(SERVICE_NAME_PATTERN)
_ENVIRONMENT_HEADER = re.compile(r"^\[\[environments\]\][ \t]*(#.*)?$", re.MULTILINE)


class NewServiceError(CommandError):
    """The service cannot be generated as asked; the message says why."""

    exit_code = BAD_INPUT


class _Template(string.Template):
    # Dockerfiles and shell lines use "$" themselves.
    delimiter = "@@"


def _placeholders(name: str, project: str) -> dict[str, str]:
    return {
        "name": name,
        "upper": name.upper(),
        "project": project,
        "package": f"{project}_{name}",
    }


def render_template(target: Path, values: dict[str, str]) -> None:
    """Every template file under ``target``, with its placeholders (paths included) filled."""
    for source in sorted(TEMPLATE_DIR.rglob(f"*{TEMPLATE_SUFFIX}")):
        relative = _Template(str(source.relative_to(TEMPLATE_DIR))).substitute(values)
        destination = target / relative.removesuffix(TEMPLATE_SUFFIX)
        destination.parent.mkdir(parents=True, exist_ok=True)
        text = _Template(source.read_text(encoding="utf-8")).substitute(values)
        destination.write_text(text, encoding="utf-8")


def registry_table(name: str, *, package: str, consumes: Sequence[str], database: bool) -> str:
    types = ", ".join(f'"{event_type}"' for event_type in consumes)
    return (
        f"[services.{name}]\n"
        'kind = "consumer"\n'
        f"consumes = [{types}]\n"
        f'health_command = ["python", "-m", "{package}.health"]\n'
        f"database = {'true' if database else 'false'}\n"
        "\n"
        f"[services.{name}.deployment_alarms]\n"
        "backlog_age_seconds = 600\n"
        "\n"
    )


def size_table(name: str, *, spot: bool) -> str:
    return (
        f"\n[environments.services.{name}]\n"
        "cpu = 256\n"
        "memory = 512\n"
        "min_tasks = 1\n"
        "max_tasks = 2\n"
        f"spot = {'true' if spot else 'false'}\n"
    )


def with_service(text: str, *, registry: str, sizes: Sequence[str]) -> str:
    """``text`` with the registry table before the environments and one size per environment.

    Each ``[[environments]]`` block ends where the next begins (or the file ends), so the size
    table goes at the end of each block, above the comments that introduce the next one: TOML
    places it in that environment.
    """
    headers = [match.start() for match in _ENVIRONMENT_HEADER.finditer(text)]
    if len(headers) != len(sizes):
        raise NewServiceError(
            f"found {len(headers)} [[environments]] headers, expected {len(sizes)} "
            "(one per environment, each on a line of its own)"
        )
    head, lead = _split_trailing_comments(text[: headers[0]])
    parts = [head, registry, lead]
    ends = [*headers[1:], len(text)]
    for start, end, size in zip(headers, ends, sizes, strict=True):
        block, next_lead = _split_trailing_comments(text[start:end])
        parts += [block.rstrip("\n") + "\n", size, "\n", next_lead]
    return "".join(parts).rstrip("\n") + "\n"


def _split_trailing_comments(head: str) -> tuple[str, str]:
    """``head`` without, and with only, the comment lines that introduce what follows it."""
    lines = head.splitlines(keepends=True)
    cut = len(lines)
    while cut and (lines[cut - 1].startswith("#") or not lines[cut - 1].strip()):
        cut -= 1
    lead = "".join(lines[cut:]).lstrip("\n")
    return "".join(lines[:cut]).rstrip("\n") + "\n\n", lead


def _matching_lock(services_dir: Path, requirements: str) -> Path:
    """An existing service's lock compiled from the same requirements: the same lock."""
    wanted = _requirement_lines(requirements)
    for candidate in sorted(services_dir.glob("*/requirements.in")):
        lock = candidate.with_suffix(".lock")
        if lock.is_file() and _requirement_lines(candidate.read_text(encoding="utf-8")) == wanted:
            return lock
    raise NewServiceError(
        "no existing service locks the template's requirements; run `make lock SERVICE=<name>`"
    )


def _requirement_lines(text: str) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def generate(*, root: Path, name: str, consumes: Sequence[str], database: bool = False) -> Path:
    """Write the service folder and its registry entry under ``root``; the folder."""
    if not _NAME.fullmatch(name):
        raise NewServiceError(
            f"service name {name!r} must be 2 to 21 lower-case letters and digits, "
            "starting with a letter"
        )
    if name in RESERVED_SERVICE_NAMES:
        raise NewServiceError(f"service name {name!r} is reserved; pick another")
    services_dir = root / "services"
    target = services_dir / name
    if target.exists():
        raise NewServiceError(f"services/{name} already exists")
    config_path = root / "config" / "environments.toml"
    config = load_config(config_path)
    values = _placeholders(name, config.project.name)
    text = with_service(
        config_path.read_text(encoding="utf-8"),
        registry=registry_table(
            name, package=values["package"], consumes=consumes, database=database
        ),
        sizes=[size_table(name, spot=not env.protect_data) for env in config.environments],
    )
    with tempfile.TemporaryDirectory(dir=services_dir, prefix=f".{name}-") as scratch:
        staged = Path(scratch) / name
        render_template(staged, values)
        requirements = (staged / "requirements.in").read_text(encoding="utf-8")
        shutil.copyfile(_matching_lock(services_dir, requirements), staged / "requirements.lock")
        candidate = Path(scratch) / "environments.toml"
        candidate.write_text(text, encoding="utf-8")
        # Validated before anything lands; the messages name the real file.
        load_config(candidate, shown_as=config_path.relative_to(root))
        # The registry entry first: a folder without its entry would block a second try.
        write_atomically(config_path, text)
        staged.rename(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--name", required=True)
    parser.add_argument("--consumes", nargs="+", required=True, metavar="EVENT_TYPE")
    parser.add_argument("--database", action="store_true", help="the service uses the database")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        target = generate(
            root=args.root, name=args.name, consumes=args.consumes, database=args.database
        )
    except (NewServiceError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return BAD_INPUT
    shown = target.relative_to(args.root)
    print(f"{shown}: generated; [services.{args.name}] and its sizes added to the environment file")
    print(f"next: make run (synth, policy gate), make dev, make image-build SERVICE={args.name}")
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
