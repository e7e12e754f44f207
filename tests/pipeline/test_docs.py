"""The pipeline diagram in docs/ is the synthesized pipeline, not a drawing that drifts."""

from __future__ import annotations

import pytest

from config.paths import ROOT
from ops.review.plan import DIAGRAM_END, DIAGRAM_START, read_plan, render_mermaid, with_diagram
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
