"""Fixtures of the infra tests."""

from __future__ import annotations

from typing import Any

import pytest

from config.model import DeliveryConfig, EnvironmentConfig
from tests.support.assembly import ENVIRONMENTS
from tests.support.edge_app import synthesize_edge_app


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def env(request: pytest.FixtureRequest, config: DeliveryConfig) -> EnvironmentConfig:
    """Each shipped environment in turn: a test that asks for it runs once per environment."""
    return config.environment(request.param)


@pytest.fixture(scope="session")
def edge_shapes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The distribution with a custom certificate, synthesized once per session (per worker)."""
    base = tmp_path_factory.mktemp("edge-shapes")
    return synthesize_edge_app(base / "cdk.out", base / "dist")
