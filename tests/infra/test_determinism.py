"""The same commit synthesizes byte-identical templates, however often and from wherever.

The session's synthesis is of the Source artifact (tests/conftest.py, the app run as the CLI
runs it); the second one here is `make synth`'s own command, the pinned CLI, on the checkout
itself. Equal bytes prove that nothing synthesized (templates, asset hashes, image tags)
depends on .git or on files git does not track, and that every test reads what the pipeline's
Synth step writes (the CLI adds path and asset metadata to the context, for one).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from config.paths import ROOT
from tests.support.assembly import Assembly

CDK = ROOT / "node_modules" / ".bin" / "cdk"


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _cli_synth(outdir: Path) -> Path:
    completed = subprocess.run(
        [str(CDK), "synth", "--quiet", "--no-notices", "--output", str(outdir)],
        cwd=ROOT,
        env={
            **os.environ,
            "CDK_DISABLE_CLI_TELEMETRY": "true",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "DELIVERY_CONFIG": "",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return outdir


def test_the_cli_synth_of_the_checkout_is_byte_identical(
    assembly: Assembly, tmp_path: Path
) -> None:
    first = _files(assembly.root)
    second = _files(_cli_synth(tmp_path / "again"))
    assert sorted(first) == sorted(second)
    different = [name for name in first if first[name] != second[name]]
    assert different == []
    assert any(name.endswith(".template.json") for name in first)
