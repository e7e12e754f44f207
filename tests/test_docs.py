"""The docs say what the code does: the pipeline diagram is the synthesized pipeline, not a
drawing that drifts; the README is the front door into an index of docs/; and every link and
`make` command in them points at something that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config.exit_codes import BAD_INPUT
from config.paths import ROOT
from ops.review.plan import (
    DIAGRAM_END,
    DIAGRAM_START,
    main,
    read_plan,
    render_mermaid,
    with_diagram,
)
from policies.workflows import make_invocation_problems, make_targets
from tests.support.assembly import Assembly

PIPELINE_DOC = ROOT / "docs" / "pipeline.md"
README = ROOT / "README.md"
DOCS_INDEX = ROOT / "docs" / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 150

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_INLINE_MAKE = re.compile(r"`(make [^`]+)`")


def test_pipeline_diagram_matches_the_synthesized_pipeline(assembly: Assembly) -> None:
    document = PIPELINE_DOC.read_text(encoding="utf-8")
    expected = with_diagram(document, render_mermaid(read_plan(assembly.root)))
    assert document == expected, "run `make synth docs` and commit docs/pipeline.md"


def test_diagram_shows_approvals_as_their_own_step(assembly: Assembly) -> None:
    diagram = render_mermaid(read_plan(assembly.root))
    assert '{{"manual approval<br/>Approve-prod"}}' in diagram
    assert diagram.startswith("```mermaid\nflowchart TD\n")


def test_with_diagram_needs_both_markers() -> None:
    assert with_diagram(f"a\n{DIAGRAM_START}\nold\n{DIAGRAM_END}\nb", "new") == (
        f"a\n{DIAGRAM_START}\nnew\n{DIAGRAM_END}\nb"
    )
    with pytest.raises(ValueError, match="markers"):
        with_diagram("no markers here", "new")


def test_make_docs_rewrites_the_diagram_between_the_markers(
    assembly: Assembly, tmp_path: Path
) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^docs:[^\n]*\n((?:\t[^\n]*\n)+)", makefile, re.MULTILINE)
    assert recipe, "the Makefile has no docs target"
    assert recipe.group(1).split() == [
        "$(PY)",
        "-m",
        "ops.review.plan",
        "$(OUT)",
        "--write-doc",
        "docs/pipeline.md",
    ]
    stale = tmp_path / "pipeline.md"
    stale.write_text(with_diagram(PIPELINE_DOC.read_text(encoding="utf-8"), "stale"), "utf-8")
    assert main([str(assembly.root), "--write-doc", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == with_diagram(
        PIPELINE_DOC.read_text(encoding="utf-8"), render_mermaid(read_plan(assembly.root))
    )


def test_make_docs_refuses_a_document_without_markers(
    assembly: Assembly, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "notes.md"
    document.write_text("no diagram here\n", encoding="utf-8")
    assert main([str(assembly.root), "--write-doc", str(document)]) == BAD_INPUT
    assert capsys.readouterr().err == "plan: the document has no generated-diagram markers\n"
    assert document.read_text(encoding="utf-8") == "no diagram here\n"


def _outside_fences(text: str) -> str:
    return _FENCE.sub("", text)


def _links(document: Path) -> list[str]:
    text = _outside_fences(document.read_text(encoding="utf-8"))
    return [link for link in _LINK.findall(text) if not link.startswith(("http://", "https://"))]


def _anchors(document: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", _outside_fences(document.read_text(encoding="utf-8")), re.M)
    return {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings
    }


def _make_commands(document: Path) -> list[str]:
    text = document.read_text(encoding="utf-8")
    fenced = [line.strip() for block in _FENCE.findall(text) for line in block.splitlines()]
    inline = [" ".join(span.split()) for span in _INLINE_MAKE.findall(_outside_fences(text))]
    commands = [line for line in fenced if line.startswith("make ")] + inline
    return [re.sub(r"\s+#.*$", "", command) for command in commands]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_relative_link_resolves(document: Path) -> None:
    for link in _links(document):
        path, _, anchor = link.partition("#")
        target = (document.parent / path).resolve() if path else document
        assert target.exists(), f"{document.name}: {link} does not exist"
        if anchor and target.suffix == ".md":
            assert anchor in _anchors(target), f"{document.name}: {link}: no such heading"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_make_command_is_a_target_that_exists(document: Path) -> None:
    commands = _make_commands(document)
    assert make_invocation_problems("\n".join(commands), make_targets()) == []


def test_the_make_command_reader_sees_fenced_inline_and_wrapped_commands(tmp_path: Path) -> None:
    document = tmp_path / "doc.md"
    document.write_text(
        "Run `make rollback\n   COMMIT=<sha>` or:\n```bash\nmake run   # all of it\nls\n```\n",
        encoding="utf-8",
    )
    assert _make_commands(document) == ["make run", "make rollback COMMIT=<sha>"]
    assert make_invocation_problems("make no-such-target", make_targets()) != []


def test_the_readme_is_the_front_door_into_the_docs_index() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) < README_MAX_LINES
    assert DOCS_INDEX.resolve() in {(README.parent / link).resolve() for link in _links(README)}
    indexed = {
        (DOCS_INDEX.parent / link.partition("#")[0]).resolve() for link in _links(DOCS_INDEX)
    }
    unlisted = [path.name for path in DOCUMENTS[1:] if path != DOCS_INDEX and path not in indexed]
    assert unlisted == [], "docs/README.md does not list these"


def test_ci_runs_the_readmes_test_command() -> None:
    readme_commands = _make_commands(README)
    assert "make test" in readme_commands
    ci_script = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert "make test" in [line.strip() for line in ci_script]
