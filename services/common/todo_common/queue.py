"""The AWS messaging clients of the services: SNS for a publisher (the API's outbox relay
publishes to the event topic), SQS for a consumer (the worker receives from its own queue)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from botocore.config import Config

from todo_common.settings import CommonSettings

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient


class SnsPublisher(Protocol):
    """What the relay calls on an SNS client. A protocol rather than mypy_boto3_sns's
    SNSClient: the stubs are not a dependency of this repository."""

    def publish_batch(
        self,
        *,
        TopicArn: str,  # noqa: N803 - boto3's parameter names
        PublishBatchRequestEntries: Sequence[Mapping[str, Any]],  # noqa: N803
    ) -> Mapping[str, Any]: ...


def _client_config(read_timeout: float) -> Config:
    # Retries are the client's "standard" mode, few and quick: the callers have their own
    # retry loops (the relay's backoff, the queue's redelivery).
    return Config(
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=3,
        read_timeout=read_timeout,
    )


def _local_key(endpoint_url: str | None) -> str | None:
    # moto accepts any credentials; a fresh clone has none configured.
    if endpoint_url and not os.environ.get("AWS_ACCESS_KEY_ID"):
        return "local"
    return None


def _client(
    service: Literal["sqs", "sns"], *, region: str, endpoint_url: str | None, read_timeout: float
) -> Any:
    import boto3  # noqa: PLC0415 - boto3 is slow to import; only when a queue or topic is used

    key = _local_key(endpoint_url)
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        config=_client_config(read_timeout),
        aws_access_key_id=key,
        aws_secret_access_key=key,
    )


def sqs_client(settings: CommonSettings, *, read_timeout: float = 30.0) -> SQSClient:
    """A client for QUEUE_URL's region (or SQS_ENDPOINT_URL, the local moto server)."""
    client: SQSClient = _client(
        "sqs",
        region=settings.queue_region,
        endpoint_url=settings.sqs_endpoint_url,
        read_timeout=read_timeout,
    )
    return client


def sns_client(settings: CommonSettings, *, read_timeout: float = 30.0) -> SnsPublisher:
    """A client for EVENTS_TOPIC_ARN's region (or SNS_ENDPOINT_URL, the local moto server)."""
    return cast(
        "SnsPublisher",
        _client(
            "sns",
            region=settings.topic_region,
            endpoint_url=settings.sns_endpoint_url,
            read_timeout=read_timeout,
        ),
    )
