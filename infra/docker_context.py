"""What Docker sends from a build context under .dockerignore rules, and a fingerprint of it.

Pure Python on purpose: the pipeline's Images and Verify steps compute every image's tag from
the source, and the CDK's ``FileSystem.fingerprint`` would start a jsii runtime (node, and the
whole aws-cdk-lib assembly unpacked into a cold home directory) in each of those commands for a
hash of a few hundred files: seconds of every CodeBuild run, and of every test that runs them.

The rules are Docker's (moby/patternmatcher, which BuildKit applies to the context):
https://docs.docker.com/build/concepts/context/#dockerignore-files
- each line is a pattern, cleaned as a path and relative to the context root (a leading ``/``
  is dropped); ``#`` starts a comment line; ``!`` makes it an exception that re-admits;
- ``*`` is any run of characters but ``/``, ``?`` one such character, ``**`` any number of
  whole path segments (none included), ``[...]`` a character class, ``\\`` escapes;
- a pattern that matches a directory matches everything below it;
- the last pattern that matches a path decides it.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# The fingerprint's own format version: a change to what is hashed, or how, changes every tag.
_FORMAT = b"docker-context-fingerprint/1\n"


@dataclass(frozen=True)
class _Pattern:
    text: str
    exception: bool
    regex: re.Pattern[str]
    # moby matches a pattern that starts with "**" and has no other wildcard by its suffix:
    # "**.pyc" is every path ending in ".pyc", "**/x" every path ending in "/x", and "x".
    suffix: str | None = None

    @property
    def literal_prefix(self) -> str:
        """The pattern up to its first wildcard: every path it matches starts with this."""
        return re.split(r"[*?\\[\\\\]", self.text, maxsplit=1)[0]

    def _matches_one(self, path: str) -> bool:
        if self.suffix is not None:
            return path.endswith(self.suffix) or (
                self.suffix.startswith("/") and path == self.suffix[1:]
            )
        return bool(self.regex.match(path))

    def matches(self, relative: str) -> bool:
        """The path itself, or one of the directories above it (Docker's parent matching)."""
        if self._matches_one(relative):
            return True
        parts = relative.split("/")
        return any(self._matches_one("/".join(parts[:end])) for end in range(1, len(parts)))


def _regex(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**", index):
            index += 2
            if pattern.startswith("/", index):
                index += 1
            out.append(".*" if index == len(pattern) else "(.*/)?")
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end == -1:
                raise ValueError(f"unterminated character class in pattern {pattern!r}")
            body = pattern[index + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
            index = end
        else:
            out.append(re.escape(char))
        index += 1
    out.append("$")
    return re.compile("".join(out))


def _pattern(line: str) -> _Pattern:
    exception = line.startswith("!")
    text = line[1:].strip() if exception else line
    text = posixpath.normpath(text)
    if len(text) > 1 and text.startswith("/"):
        text = text[1:]
    rest = text[2:]
    suffix = rest if text.startswith("**") and not re.search(r"[*?\[\\]", rest) else None
    return _Pattern(text=text, exception=exception, regex=_regex(text), suffix=suffix)


class DockerIgnore:
    """The rules of one .dockerignore (its lines, comments and blanks already removed)."""

    def __init__(self, rules: Sequence[str]) -> None:
        self.patterns = [_pattern(rule) for rule in rules]

    def excludes(self, relative: str) -> bool:
        """Whether Docker leaves ``relative`` (a /-separated path in the context) out."""
        excluded = False
        for pattern in self.patterns:
            if pattern.matches(relative):
                excluded = not pattern.exception
        return excluded

    def prunes(self, directory: str) -> bool:
        """Whether nothing below the excluded ``directory`` can be re-admitted by an exception
        (so the walk need not enter it: a node_modules, say)."""
        if not self.excludes(directory):
            return False
        below = f"{directory}/"
        return not any(
            pattern.literal_prefix.startswith(below) or below.startswith(pattern.literal_prefix)
            for pattern in self.patterns
            if pattern.exception
        )


def sent_files(context: Path, ignore: DockerIgnore) -> list[str]:
    """Every file (or symlink) below ``context`` that Docker sends, as sorted relative paths.

    Docker walks into an excluded directory when an exception may re-admit something below it,
    so each file is decided on its own path, and only a directory no exception reaches is left
    unwalked.
    """
    sent = []
    for directory, subdirectories, names in os.walk(context):
        base = Path(directory).relative_to(context).as_posix()
        # A symlink to a directory is sent as the link, not followed (os.walk lists it here).
        links = [name for name in subdirectories if (Path(directory) / name).is_symlink()]
        subdirectories[:] = [
            name
            for name in subdirectories
            if name not in links and not ignore.prunes(name if base == "." else f"{base}/{name}")
        ]
        for name in [*names, *links]:
            relative = name if base == "." else f"{base}/{name}"
            if not ignore.excludes(relative):
                sent.append(relative)
    return sorted(sent)


def fingerprint(context: Path, ignore: DockerIgnore, *, extra: Iterable[str] = ()) -> str:
    """A sha256 over each sent file's path, executable bit and content (a symlink: its
    target), and ``extra``.

    Paths are relative, so the same sources give the same fingerprint wherever they are.
    """
    digest = hashlib.sha256(_FORMAT)
    for value in extra:
        digest.update(b"extra\0" + value.encode() + b"\n")
    for relative in sent_files(context, ignore):
        path = context / relative
        if path.is_symlink():
            content = b"link\0" + str(path.readlink()).encode()
        else:
            # COPY keeps the mode: an executable bit changes the image.
            mode = b"x" if path.stat().st_mode & 0o111 else b"-"
            digest_of_file = hashlib.sha256(path.read_bytes()).hexdigest().encode()
            content = b"file\0" + mode + b"\0" + digest_of_file
        digest.update(relative.encode() + b"\0" + content + b"\n")
    return digest.hexdigest()
