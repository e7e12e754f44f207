"""Run a Lambda handler or a Fargate task's process as AWS runs them, with their own roles.

Each gets the credentials of the role the template gives it (assumed as Lambda or ECS would),
the environment the template sets, and the local AWS as its endpoint. What the *service*
does with the same role is done as well, since AWS checks those calls on that role too: the
Lambda service writes the function's logs and its dead letters with the execution role.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.aws_world import World
from tests.support.cfn import StackInfo
from tests.support.local_aws import Decision, describe

# The execution role sends dead letters: https://docs.aws.amazon.com/lambda/latest/dg/dlq.html
# and writes the logs: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html


@dataclass
class Invocation:
    label: str
    returncode: int
    output: Any
    stderr: str
    decisions: list[Decision] = field(default_factory=list)

    @property
    def denied(self) -> list[Decision]:
        return [decision for decision in self.decisions if not decision.allowed]

    def explain(self) -> str:
        lines = [
            f"{self.label} exited {self.returncode}: {self.output!r}",
            describe(self.decisions),
        ]
        return "\n".join([*lines, "--- stderr (tail)", self.stderr[-2500:]])


def role_credentials(
    world: World, stack: StackInfo, role_value: Any, *, service: str
) -> dict[str, str]:
    """Credentials of the role a template property (Fn::GetAtt [role, Arn]) names."""
    role_id = role_value["Fn::GetAtt"][0]
    role_arn = world.role(stack, role_id)
    return world.aws.assume_as_service(
        role_arn,
        session_name=f"{role_id[:40]}-{uuid.uuid4().hex[:8]}",
        service=service,
        region=stack.region,
    )


class LambdaFunction:
    """One AWS::Lambda::Function of a stack, runnable as the Lambda runtime runs it."""

    def __init__(self, world: World, stack: StackInfo, logical_id: str) -> None:
        self.world, self.stack, self.logical_id = world, stack, logical_id
        self.properties = stack.resource(logical_id)["Properties"]
        self.name = str(world.resolve(stack, {"Ref": logical_id}))
        self.credentials = role_credentials(
            world, stack, self.properties["Role"], service="lambda.amazonaws.com"
        )

    def code_dir(self) -> Path:
        key = str(self.properties["Code"]["S3Key"]).removesuffix(".zip")
        directory = next(self.world.assembly.rglob(f"asset.{key}"), None)
        if directory is None or not directory.is_dir():
            raise FileNotFoundError(
                f"{self.logical_id}: its code asset asset.{key} is not in cdk.out"
            )
        return directory

    def environment(self) -> dict[str, str]:
        variables = self.world.resolve(self.stack, self.properties.get("Environment", {})).get(
            "Variables", {}
        )
        return {
            "PATH": os.environ["PATH"],
            "LANG": "C.UTF-8",
            # What the Lambda runtime sets.
            "AWS_REGION": self.stack.region,
            "AWS_DEFAULT_REGION": self.stack.region,
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            # The function's code directory is read-only, as /var/task is.
            "PYTHONDONTWRITEBYTECODE": "1",
            **self.credentials,
            "AWS_ENDPOINT_URL": self.world.aws.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
            **{str(key): str(value) for key, value in variables.items()},
        }

    def invoke(self, event: dict[str, Any], *, label: str) -> Invocation:
        module, _, function = str(self.properties["Handler"]).rpartition(".")
        runner = (
            "import importlib, json, sys\n"
            f"handler = getattr(importlib.import_module({module!r}), {function!r})\n"
            "print(json.dumps(handler(json.load(sys.stdin), None), default=str))\n"
        )
        with self.world.aws.running(label) as decisions:
            completed = subprocess.run(
                [sys.executable, "-c", runner],
                cwd=self.code_dir(),
                env={**self.environment(), "PYTHONPATH": str(self.code_dir())},
                input=json.dumps(event),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        output: Any = completed.stdout.strip()
        if completed.returncode == 0 and output:
            output = json.loads(output.splitlines()[-1])
        return Invocation(label, completed.returncode, output, completed.stderr, decisions)

    def service_calls(self, *, label: str) -> Invocation:
        """What the Lambda service does with the execution role: write the function's log
        events to its log group, send a failed asynchronous event to its dead-letter queue."""
        import boto3  # noqa: PLC0415

        session = boto3.session.Session(
            aws_access_key_id=self.credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=self.credentials["AWS_SESSION_TOKEN"],
            region_name=self.stack.region,
        )
        errors = []
        with self.world.aws.running(label) as decisions:
            log_group = self.world.resolve(
                self.stack, self.properties.get("LoggingConfig", {})
            ).get("LogGroup", f"/aws/lambda/{self.name}")
            logs = session.client("logs", endpoint_url=self.world.aws.endpoint)
            stream = f"2026/12/01/[$LATEST]{uuid.uuid4().hex}"
            for call in (
                lambda: logs.create_log_stream(logGroupName=log_group, logStreamName=stream),
                lambda: logs.put_log_events(
                    logGroupName=log_group,
                    logStreamName=stream,
                    logEvents=[{"timestamp": 1_796_140_800_000, "message": "START"}],
                ),
            ):
                errors += _attempt(call)
            target = self.world.resolve(
                self.stack, self.properties.get("DeadLetterConfig", {})
            ).get("TargetArn")
            if target:
                match = re.fullmatch(r"arn:aws:sqs:([^:]+):(\d{12}):(.+)", str(target))
                if match is None:
                    raise NotImplementedError(f"dead letters to {target}: only SQS is modelled")
                sqs = session.client("sqs", endpoint_url=self.world.aws.endpoint)
                url = f"https://sqs.{match[1]}.amazonaws.com/{match[2]}/{match[3]}"
                errors += _attempt(lambda: sqs.send_message(QueueUrl=url, MessageBody="{}"))
        return Invocation(label, 1 if errors else 0, errors, "", decisions)


def _attempt(call: Any) -> list[str]:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    try:
        call()
    except ClientError as error:
        return [str(error)]
    return []
