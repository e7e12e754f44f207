"""Where the repository is: the one root every layer's paths are built from."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Where `make synth` writes the cloud assembly every later command reads.
ASSEMBLY_DIR = ROOT / "cdk.out"
