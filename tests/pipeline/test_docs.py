"""The pipeline diagram in docs/ is the synthesized pipeline, not a drawing that drifts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config.paths import ROOT
from ops.review.plan import (
    DIAGRAM_END,
    DIAGRAM_START,
    main,
    read_plan,
    render_mermaid,
    with_diagram,
)
from tests.support.assembly import Assembly

PIPELINE_DOC = ROOT / "docs" / "pipeline.md"


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
        "$(PY)", "-m", "ops.review.plan", "$(OUT)", "--write-doc", "docs/pipeline.md"
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
    assert main([str(assembly.root), "--write-doc", str(document)]) == 1
    assert capsys.readouterr().err == "plan: the document has no generated-diagram markers\n"
    assert document.read_text(encoding="utf-8") == "no diagram here\n"
