"""Metrics as log lines: CloudWatch's embedded metric format (EMF).

A JSON log line with an ``_aws`` block becomes CloudWatch metrics when it reaches CloudWatch
Logs (the ECS awslogs driver sends each stdout line as one event), so a service publishes
metrics without an agent, an SDK call or the IAM permission to put them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

Unit = Literal["Count", "Seconds", "Milliseconds", "None"]


def emf_fields(
    *,
    namespace: str,
    dimensions: Mapping[str, str],
    metrics: Mapping[str, tuple[float, Unit]],
    timestamp: datetime,
) -> dict[str, Any]:
    """The fields to log (as ``extra``) for one EMF record of ``metrics``."""
    return {
        "_aws": {
            "Timestamp": int(timestamp.timestamp() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [list(dimensions)],
                    "Metrics": [
                        {"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()
                    ],
                }
            ],
        },
        **dimensions,
        **{name: value for name, (value, _) in metrics.items()},
    }
