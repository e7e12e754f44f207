"""The blue/green deployment's POST_TEST_TRAFFIC_SHIFT hook: the API's smoke checks, and its
contract checks where the environment runs them (``CHECKS``), against the new (green) tasks
through the load balancer's test route.

ECS invokes it once test traffic points at green, before any production traffic does, and
reads ``hookStatus``: ``FAILED`` (or an error) rolls the deployment back to blue.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/lambda-lifecycle-hooks.html
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from .api import CONTRACT, SMOKE, run
from .site import Site

# The test listener's rule forwards only requests carrying this header (infra/services); the
# listener itself admits only this function's security group.
TEST_HEADER = "x-deployment-test"
TEST_HEADER_VALUE = "green"


def handler(event: Mapping[str, Any], _context: object = None) -> dict[str, str]:
    site = Site(
        os.environ["TEST_URL"],
        timeout=10,
        headers={TEST_HEADER: TEST_HEADER_VALUE},
    )
    # The environment's own post-deploy markers: prod runs smoke only (no writes to its data).
    markers = set(os.environ.get("CHECKS", "smoke").split(","))
    outcomes = run(site, SMOKE + (CONTRACT if "contract" in markers else ()))
    failed = [outcome for outcome in outcomes if not outcome.passed]
    for outcome in outcomes:
        print(json.dumps({"event": "deployment_check", **asdict(outcome)}))
    status = "FAILED" if failed else "SUCCEEDED"
    # One JSON line per result: the function's log, which Lambda sends to its log group.
    print(
        json.dumps(
            {
                "event": "deployment_hook",
                "hookStatus": status,
                "serviceArn": event.get("serviceArn"),
                "targetServiceRevisionArn": event.get("targetServiceRevisionArn"),
                "failed": [outcome.check for outcome in failed],
            }
        )
    )
    return {"hookStatus": status}
