"""`make sbom`: one CycloneDX SBOM per service image, from the image's own hashed lock."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from config.paths import ROOT


def test_each_service_gets_a_cyclonedx_sbom_of_its_locked_dependencies(tmp_path: Path) -> None:
    subprocess.run(
        ["make", "--no-print-directory", "sbom", f"OUT={tmp_path}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    services = sorted(path.parent.name for path in ROOT.glob("services/*/requirements.lock"))
    assert sorted(path.name for path in (tmp_path / "sbom").iterdir()) == [
        f"{service}.cdx.json" for service in services
    ]
    api = json.loads((tmp_path / "sbom" / "api.cdx.json").read_text())
    assert api["bomFormat"] == "CycloneDX"
    names = {component["name"].lower() for component in api["components"]}
    assert {"fastapi", "sqlalchemy", "uvicorn"} <= names
    locked = (ROOT / "services/api/requirements.lock").read_text().lower()
    assert all(f"{name}==" in locked for name in ("fastapi", "sqlalchemy", "uvicorn"))
