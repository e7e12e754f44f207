"""The SQS client both services use (the API's relay sends, the worker receives)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from botocore.config import Config

from todo_common.settings import CommonSettings

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient


def sqs_client(settings: CommonSettings, *, read_timeout: float = 30.0) -> SQSClient:
    """A client for QUEUE_URL's region (or SQS_ENDPOINT_URL, the local moto server).

    Retries are the client's "standard" mode, few and quick: the callers have
    their own retry loops (the relay's backoff, the queue's redelivery).
    """
    import boto3  # noqa: PLC0415 - boto3 is slow to import; only when a queue is used

    config = Config(
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=3,
        read_timeout=read_timeout,
    )
    key: str | None = None
    if settings.sqs_endpoint_url and not os.environ.get("AWS_ACCESS_KEY_ID"):
        # moto accepts any credentials; a fresh clone has none configured.
        key = "local"
    client: SQSClient = boto3.client(
        "sqs",
        region_name=settings.queue_region,
        endpoint_url=settings.sqs_endpoint_url,
        config=config,
        aws_access_key_id=key,
        aws_secret_access_key=key,
    )
    return client
