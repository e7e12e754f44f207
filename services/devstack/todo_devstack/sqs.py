"""The local SQS endpoint (moto's server) and the queues, created like in AWS."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

REGION = "us-east-1"
# moto accepts any credentials; these never leave loopback.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
DEFAULT_MAX_RECEIVE_COUNT = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Until ``url`` answers (any HTTP status), or TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            # Loopback http only: the URL is the moto server this module started.
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 # nosec B310
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout} s") from None
            time.sleep(0.1)


def start_moto(
    port: int, *, quiet: bool = True, server: list[str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """moto's server on 127.0.0.1:port, in its own process group; waits until it answers.

    ``server``: the arguments after ``python -m`` of another moto server on that port (the
    worker benchmark's, which drops moto's per-message queue scans), run in ``cwd``."""
    output = subprocess.DEVNULL if quiet else None
    module = server or ["moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", *module],
        stdout=output,
        stderr=output,
        start_new_session=True,
        env={**os.environ, **LOCAL_CREDENTIALS},
        cwd=cwd,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/moto-api/", timeout=30, process=process)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process


def client(endpoint_url: str) -> SQSClient:
    import boto3  # noqa: PLC0415 - slow import

    sqs: SQSClient = boto3.client(
        "sqs",
        region_name=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    return sqs


@dataclass(frozen=True)
class Queues:
    url: str
    dlq_url: str


def create_queues(
    sqs: SQSClient,
    name: str,
    *,
    max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
    visibility_timeout: int = 30,
) -> Queues:
    """The queue and its dead-letter queue, joined by a redrive policy (as in AWS)."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
            ),
        },
    )["QueueUrl"]
    return Queues(url=url, dlq_url=dlq_url)
