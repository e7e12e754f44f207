"""The build context Docker sends, decided as Docker's .dockerignore rules decide it.

The reference is the CDK's own Docker ignore strategy (the one its image-asset fingerprints
use, and which the image tags used before they were computed without the CDK): for every file
of the services' real contexts, and for a tree that exercises each rule of the syntax, both
agree on what is sent.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from aws_cdk import IgnoreStrategy

from config.paths import ROOT
from infra.docker_context import DockerIgnore, fingerprint, sent_files
from infra.images import IGNORE_SUFFIX, _ignore_rules

# Each rule of the syntax: wildcards, character classes, a leading slash, `**` at the start,
# the middle and the end, exceptions that re-admit below an excluded directory, the last match
# deciding, and a pattern that names a directory.
TRICKY_RULES = [
    "*.log",
    "/build",
    "docs/**/draft-?.md",
    "src/**",
    "!src/keep/**",
    "src/keep/secret[0-9].txt",
    "!src/keep/secret1.txt",
    "**/__pycache__",
    "cache",
    "!cache/README",
]
TRICKY_FILES = [
    "app.log",
    "app.py",
    "build/out.bin",
    "nested/build/out.bin",
    "nested/app.log",
    "docs/draft-1.md",
    "docs/a/b/draft-2.md",
    "docs/a/b/draft-10.md",
    "docs/final.md",
    "src/main.py",
    "src/keep/kept.py",
    "src/keep/secret1.txt",
    "src/keep/secret2.txt",
    "src/keep/__pycache__/kept.pyc",
    "cache/blob",
    "cache/README",
]


def _cdk_sent(context: Path, rules: list[str], files: list[str]) -> list[str]:
    strategy = IgnoreStrategy.docker(str(context.resolve()), rules)
    return sorted(f for f in files if not strategy.ignores(str((context / f).resolve())))


def _all_files(context: Path) -> list[str]:
    return sorted(p.relative_to(context).as_posix() for p in context.rglob("*") if p.is_file())


@pytest.fixture
def tricky(tmp_path: Path) -> Path:
    for relative in TRICKY_FILES:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(relative, encoding="utf-8")
    return tmp_path


def test_every_rule_of_the_syntax_decides_as_docker_does(tricky: Path) -> None:
    sent = sent_files(tricky, DockerIgnore(TRICKY_RULES))
    assert sent == _cdk_sent(tricky, TRICKY_RULES, TRICKY_FILES)
    assert sent == [
        "app.py",
        "cache/README",
        "docs/a/b/draft-10.md",
        "docs/final.md",
        "nested/app.log",  # unlike .gitignore, `*.log` is the context root's only
        "nested/build/out.bin",
        "src/keep/kept.py",
        "src/keep/secret1.txt",
    ]


@pytest.mark.parametrize("service", ["api", "worker"])
def test_each_service_context_is_what_the_cdk_strategy_sends(service: str, tmp_path: Path) -> None:
    context = tmp_path / "services"
    shutil.copytree(
        ROOT / "services", context, ignore=shutil.ignore_patterns("node_modules", "dist")
    )
    (context / "api/todo_api/__pycache__").mkdir(exist_ok=True)
    (context / "api/todo_api/__pycache__/app.cpython-311.pyc").write_bytes(b"\0")
    dockerfile = f"{service}/Dockerfile"
    rules = [*_ignore_rules(context / f"{dockerfile}{IGNORE_SUFFIX}"), f"!{dockerfile}"]
    sent = sent_files(context, DockerIgnore(rules))
    assert sent == _cdk_sent(context, rules, _all_files(context))
    assert dockerfile in sent
    assert not any("__pycache__" in path or path.startswith("web/") for path in sent)


def test_the_fingerprint_covers_paths_contents_links_and_extra(tricky: Path) -> None:
    rules = DockerIgnore(TRICKY_RULES)
    before = fingerprint(tricky, rules)
    assert fingerprint(tricky, rules) == before
    assert fingerprint(tricky, rules, extra=["api/Dockerfile"]) != before
    (tricky / "app.log").write_text("excluded: no change", encoding="utf-8")
    assert fingerprint(tricky, rules) == before
    (tricky / "app.py").write_text("changed", encoding="utf-8")
    changed = fingerprint(tricky, rules)
    assert changed != before
    (tricky / "app.py").rename(tricky / "moved.py")
    assert fingerprint(tricky, rules) not in {before, changed}
    (tricky / "link").symlink_to("moved.py")
    linked = fingerprint(tricky, rules)
    (tricky / "link").unlink()
    (tricky / "link").symlink_to("src")
    assert fingerprint(tricky, rules) != linked


def test_an_unterminated_character_class_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match=r"unterminated character class in pattern 'a\[b'"):
        DockerIgnore(["a[b"])


def test_a_leading_double_star_without_a_slash_matches_by_suffix_as_buildkit_does() -> None:
    """moby/patternmatcher (BuildKit) matches "**" + literal text by suffix: "**.pyc" is any
    path ending in ".pyc". The CDK's own Docker strategy reads it as "(any dir/).pyc" and would
    hash files Docker leaves out; this follows Docker."""
    rules = DockerIgnore(["**.pyc", "**/__pycache__", "!keep/**.log"])
    assert rules.excludes("a/b.pyc") and rules.excludes("c.pyc")
    assert rules.excludes("x/__pycache__/y") and rules.excludes("__pycache__/z")
    assert not rules.excludes("a/b.py")


def test_the_executable_bit_is_part_of_the_fingerprint(tricky: Path) -> None:
    rules = DockerIgnore(TRICKY_RULES)
    before = fingerprint(tricky, rules)
    (tricky / "app.py").chmod(0o755)
    assert fingerprint(tricky, rules) != before
