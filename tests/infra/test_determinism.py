"""The same commit synthesizes byte-identical templates, however often and from wherever.

The session's synthesis is of the Source artifact (tests/conftest.py); the second one here is
of the checkout itself: equal bytes also prove that nothing synthesized (templates, asset
hashes, image tags) depends on .git or on files git does not track.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.assembly import Assembly, synthesize_or_fail


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_second_synth_is_byte_identical(assembly: Assembly, tmp_path: Path) -> None:
    first = _files(assembly.root)
    second = _files(synthesize_or_fail(tmp_path / "again"))
    assert sorted(first) == sorted(second)
    different = [name for name in first if first[name] != second[name]]
    assert different == []
    assert any(name.endswith(".template.json") for name in first)
