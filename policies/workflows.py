"""The organisation's rules for GitHub Actions workflows, checked by parsing the files.

actionlint checks the schema and expressions and zizmor audits for known attack patterns;
these rules are the house style on top, the ones a reviewer would otherwise have to remember:

- the workflow-level token is read-only; write scopes are granted per job;
- every action is pinned to a full commit SHA, with its version in a comment;
- every checkout drops the token (``persist-credentials: false``);
- every job has a ``timeout-minutes``;
- a workflow run by pull requests cancels its previous run for the same PR;
- no ``pull_request_target`` or ``workflow_run`` (they run with secrets on untrusted code);
- no ``${{ }}`` expression inside ``run:`` (inputs reach scripts as environment variables);
- every ``run:`` line is ``make <targets>`` with targets the Makefile defines, so a laptop and
  CI run the same commands;
- every container image a job runs comes from ECR Public or ECR, pinned by digest
  (policies/images.py says why).

    python -m policies.workflows [.github/workflows]      (`make workflow-lint`)
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from config.exit_codes import BAD_INPUT, FAILURE, SUCCESS
from config.paths import ROOT
from policies.images import image_problem, workflow_images

WORKFLOWS_DIR = ROOT / ".github" / "workflows"
MAKEFILE = ROOT / "Makefile"

FORBIDDEN_TRIGGERS = frozenset({"pull_request_target", "workflow_run"})
READ_ONLY_LEVELS = frozenset({"read", "none"})
_PINNED_USES = re.compile(r"^\s*-?\s*uses:\s*(?P<ref>[^\s#]+)\s*#\s*(?P<version>v\d[\w.\-]*)\s*$")
_ANY_USES = re.compile(r"^\s*-?\s*uses:\s*(?P<ref>[^\s#]+)")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_MAKE_TARGET = re.compile(r"^(?P<name>[a-zA-Z][\w-]*)\s*:(?!=)", re.MULTILINE)


@dataclass(frozen=True, kw_only=True)
class Finding:
    workflow: str
    where: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.workflow}: {self.where}: {self.rule}: {self.message}"


def make_targets(makefile: Path = MAKEFILE) -> frozenset[str]:
    """Target names the Makefile defines (phony or file targets written as plain names)."""
    return frozenset(_MAKE_TARGET.findall(makefile.read_text(encoding="utf-8")))


def load_workflow(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{path.name}: not a workflow (expected a mapping at the top)")
    # YAML 1.1 reads the bare key `on` as the boolean True.
    if True in document:
        document["on"] = document.pop(True)
    return document


def _triggers(workflow: dict[str, Any]) -> set[str]:
    on = workflow.get("on", {})
    if isinstance(on, str):
        return {on}
    return set(on)


def _grants_write(permissions: Any) -> bool:
    if permissions is None:
        return True  # unset means the repository default, which may be read-write
    if isinstance(permissions, str):
        return permissions != "read-all"
    return any(level not in READ_ONLY_LEVELS for level in permissions.values())


def write_scopes(workflow: dict[str, Any]) -> dict[str, frozenset[str]]:
    """Per job, the permission scopes it may write."""
    return {
        name: frozenset(
            scope
            for scope, level in (job.get("permissions") or {}).items()
            if level not in READ_ONLY_LEVELS
        )
        for name, job in workflow.get("jobs", {}).items()
        if isinstance(job.get("permissions"), dict)
    }


def _steps(workflow: dict[str, Any]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    for job_name, job in workflow.get("jobs", {}).items():
        for index, step in enumerate(job.get("steps", []), start=1):
            yield job_name, index, step


def _step_label(job: str, index: int, step: dict[str, Any]) -> str:
    return f"job {job} step {index} ({step.get('name') or step.get('uses') or 'run'})"


def _workflow_findings(workflow: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    for trigger in sorted(_triggers(workflow) & FORBIDDEN_TRIGGERS):
        yield "on", "forbidden-trigger", f"{trigger} runs untrusted code with secrets"
    if _grants_write(workflow.get("permissions")):
        yield "permissions", "top-level-read-only", "the workflow token must be read-only"
    if "pull_request" in _triggers(workflow):
        concurrency = workflow.get("concurrency")
        if not isinstance(concurrency, dict) or concurrency.get("cancel-in-progress") is not True:
            yield (
                "concurrency",
                "cancel-superseded-runs",
                "a new push must cancel the PR's previous run (cancel-in-progress: true)",
            )
    for job_name, job in workflow.get("jobs", {}).items():
        if "timeout-minutes" not in job:
            yield f"job {job_name}", "timeout", "every job needs timeout-minutes"


def _pin_findings(text: str) -> Iterator[tuple[str, str, str]]:
    """Read from the text, not the YAML: the version lives in the comment."""
    for number, line in enumerate(text.splitlines(), start=1):
        uses = _ANY_USES.match(line)
        if not uses or uses["ref"].startswith(("./", "docker://")):
            continue
        _, _, ref = uses["ref"].partition("@")
        if not _SHA.match(ref) or not _PINNED_USES.match(line):
            yield (
                f"line {number}",
                "pinned-action",
                f"{uses['ref']} must be pinned to a full commit SHA with '# vX.Y.Z' after it",
            )


def _step_findings(
    workflow: dict[str, Any], targets: frozenset[str]
) -> Iterator[tuple[str, str, str]]:
    for job_name, index, step in _steps(workflow):
        where = _step_label(job_name, index, step)
        checkout = str(step.get("uses", "")).startswith("actions/checkout@")
        if checkout and (step.get("with") or {}).get("persist-credentials") is not False:
            yield where, "persist-credentials", "checkout must set persist-credentials: false"
        script = step.get("run")
        if script is None:
            continue
        if "${{" in str(script):
            yield where, "no-expressions-in-run", "pass values through env:, not ${{ }} in run:"
        for problem in make_invocation_problems(str(script), targets):
            yield where, "make-targets-only", problem


def _image_findings(workflow: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    for where, image in workflow_images(workflow):
        if problem := image_problem(image):
            yield where, "ecr-image-by-digest", problem


def check_workflow(
    name: str, text: str, workflow: dict[str, Any], targets: frozenset[str]
) -> list[Finding]:
    found = [
        *_workflow_findings(workflow),
        *_pin_findings(text),
        *_step_findings(workflow, targets),
        *_image_findings(workflow),
    ]
    return [
        Finding(workflow=name, where=where, rule=rule, message=message)
        for where, rule, message in found
    ]


def make_invocation_problems(script: str, targets: frozenset[str]) -> list[str]:
    """What is wrong with a script meant to be only `make <existing targets>` lines."""
    problems = []
    for line in filter(None, (raw.strip() for raw in script.splitlines())):
        try:
            words = shlex.split(line)
        except ValueError as error:
            problems.append(f"cannot parse {line!r}: {error}")
            continue
        if not words or words[0] != "make":
            problems.append(f"{line!r} is not a make invocation")
            continue
        named = [word for word in words[1:] if not word.startswith("-") and "=" not in word]
        if not named:
            problems.append(f"{line!r} names no target")
        problems += [
            f"make target {target!r} does not exist" for target in named if target not in targets
        ]
    return problems


def check_directory(directory: Path = WORKFLOWS_DIR, makefile: Path = MAKEFILE) -> list[Finding]:
    targets = make_targets(makefile)
    findings: list[Finding] = []
    files = sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])
    if not files:
        raise FileNotFoundError(f"no workflow files in {directory}")
    for path in files:
        text = path.read_text(encoding="utf-8")
        findings += check_workflow(path.name, text, load_workflow(path), targets)
    return findings


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else WORKFLOWS_DIR
    try:
        findings = check_directory(directory)
    except (OSError, ValueError, yaml.YAMLError) as error:
        print(f"workflow rules: {error}", file=sys.stderr)
        return BAD_INPUT
    for finding in findings:
        print(finding)
    count = len(list(directory.glob("*.y*ml")))
    print(f"workflow rules: {count} workflows, {len(findings)} findings")
    return FAILURE if findings else SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
