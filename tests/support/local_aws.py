"""A local AWS for the run-time IAM proofs: one moto server in this process, IAM enforced.

moto's server answers the AWS APIs; every request signed by anyone but the harness itself is
authorized before moto dispatches it, with moto's enforcement machinery (signature check, the
caller's identity from its access key, AccessDenied before the action runs) and the evaluator
of tests/support/iam_policy.py (moto's own ignores Resource and Condition). Each decision is
recorded with the step or process that was running, so a test names the action, the resource,
the role and the step that lacks it. Requests for APIs moto does not implement are authorized
first and then recorded as "not implemented", never confused with a denial.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.support import iam_policy
from tests.support.moto_cognito import install_joserfc_shim
from tests.support.request_model import (
    IMPLIED_BY_ACTION,
    ImpliedRule,
    UnmodelledError,
    companions,
    iam_action,
    is_aws_managed_key,
    target_of,
)

ADMIN_USER = "harness-admin"
PARTITION = "aws"


def _install_openapi_shim() -> None:
    """moto's CloudFormation backend imports its API Gateway backend, which imports
    openapi-spec-validator (moto's "cloudformation" extra, not in our lock). We never
    import an OpenAPI document; an inert module lets GetTemplate/DescribeStacks be served."""
    if "openapi_spec_validator" in sys.modules:
        return
    try:
        import openapi_spec_validator  # type: ignore[import-not-found]  # noqa: F401, PLC0415
    except ImportError:
        root = types.ModuleType("openapi_spec_validator")
        validation = types.ModuleType("openapi_spec_validator.validation")
        exceptions = types.ModuleType("openapi_spec_validator.validation.exceptions")

        class OpenAPIValidationError(Exception):
            pass

        def validate(*_args: Any, **_kwargs: Any) -> None:
            raise NotImplementedError("OpenAPI validation is not available in the harness")

        root.validate = validate  # type: ignore[attr-defined]
        root.validate_spec = validate  # type: ignore[attr-defined]
        exceptions.OpenAPIValidationError = OpenAPIValidationError  # type: ignore[attr-defined]
        sys.modules.update(
            {
                "openapi_spec_validator": root,
                "openapi_spec_validator.validation": validation,
                "openapi_spec_validator.validation.exceptions": exceptions,
            }
        )


@dataclass(frozen=True)
class Decision:
    label: str  # the step or process that was running
    caller: str
    action: str
    resource: str
    allowed: bool
    reason: str
    implied_by: str = ""  # "<action> on <resource> (<doc>)" for a permission AWS implies
    outcome: str = "authorized"  # or "denied", "not implemented", "served by the harness"

    def __str__(self) -> str:
        why = f" [implied by {self.implied_by}]" if self.implied_by else ""
        verdict = "ALLOWED" if self.allowed else "DENIED"
        return (
            f"{self.label}: {verdict} {self.action} on {self.resource} for {self.caller}"
            f" ({self.reason}){why}"
        )


def describe(decisions: Iterable[Decision], indent: str = "  ") -> str:
    """One line per distinct decision (a retried call is decided again, and said once)."""
    return "\n".join(indent + line for line in dict.fromkeys(str(d) for d in decisions))


# -------------------------------------------------------------------- moto internals


def _backends() -> types.SimpleNamespace:
    from moto.ecr.models import ecr_backends  # noqa: PLC0415
    from moto.iam.models import iam_backends  # noqa: PLC0415
    from moto.kms.models import kms_backends  # noqa: PLC0415
    from moto.s3.models import s3_backends  # noqa: PLC0415
    from moto.secretsmanager.models import secretsmanager_backends  # noqa: PLC0415
    from moto.sns.models import sns_backends  # noqa: PLC0415
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    return types.SimpleNamespace(
        ecr=ecr_backends,
        iam=iam_backends,
        kms=kms_backends,
        s3=s3_backends,
        secrets=secretsmanager_backends,
        sns=sns_backends,
        sqs=sqs_backends,
    )


def _arn_parts(arn: str) -> tuple[str, str, str, str]:
    """(service, region, account, resource) of an ARN."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "", "", "", arn
    return parts[2], parts[3], parts[4], parts[5]


def _documents(policies: list[Any]) -> list[Any]:
    from moto.iam.access_control import IAMPolicy  # noqa: PLC0415

    return [IAMPolicy(policy)._policy_json for policy in policies]


def _params(responder: Any) -> dict[str, Any]:
    body = getattr(responder, "body", b"") or b""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    content_type = str(responder.headers.get("Content-Type", ""))
    if "json" in content_type and body.strip().startswith("{"):
        return dict(json.loads(body))
    values: dict[str, Any] = {}
    for key, value in dict(responder.querystring).items():
        values[key] = value[0] if isinstance(value, list) and len(value) == 1 else value
    return values


class LocalAws:
    """The moto server, its harness identities and the decision log."""

    def __init__(self) -> None:
        _install_openapi_shim()
        install_joserfc_shim()  # moto's Cognito signs its tokens with it
        from moto.server import ThreadedMotoServer  # noqa: PLC0415

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.port = int(port)
        self.endpoint = f"http://{host}:{port}"
        self.label = "harness"
        self.decisions: list[Decision] = []
        self.fallbacks: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {}
        self._admins: dict[str, dict[str, str]] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._session: Any = None
        self._lock = threading.Lock()
        _SERVERS[self.port] = self
        _install_enforcement()

    # ---------------------------------------------------------------- lifecycle

    def stop(self) -> None:
        _SERVERS.pop(self.port, None)
        self._server.stop()

    def reset(self) -> None:
        """An empty AWS again: every account, resource and identity is gone."""
        import requests  # noqa: PLC0415

        requests.post(f"{self.endpoint}/moto-api/reset", timeout=30)
        self._admins.clear()
        self._clients.clear()
        self.decisions.clear()
        self.fallbacks.clear()
        self.label = "harness"

    @contextmanager
    def running(self, label: str) -> Iterator[list[Decision]]:
        """Attribute the requests made meanwhile to ``label``; yields its decisions."""
        start = len(self.decisions)
        self.label = label
        found: list[Decision] = []
        try:
            yield found
        finally:
            found.extend(self.decisions[start:])
            self.label = "harness"

    # ---------------------------------------------------------------- identities

    def admin_credentials(self, account: str) -> dict[str, str]:
        """The harness's own identity in ``account`` (never evaluated: it is the setup)."""
        with self._lock:
            if account not in self._admins:
                iam = _backends().iam[account][PARTITION]
                iam.create_user(region_name="us-east-1", user_name=ADMIN_USER, path="/", tags=[])
                key = iam.create_access_key(ADMIN_USER)
                self._admins[account] = {
                    "aws_access_key_id": key.access_key_id,
                    "aws_secret_access_key": key.secret_access_key,
                }
            return dict(self._admins[account])

    def client(self, service: str, *, account: str, region: str) -> Any:
        """A client acting as the harness itself in ``account`` (cached until a reset)."""
        key = (service, account, region)
        if key not in self._clients:
            if self._session is None:
                import boto3  # noqa: PLC0415

                self._session = boto3.session.Session()
            self._clients[key] = self._session.client(
                service,
                region_name=region,
                endpoint_url=self.endpoint,
                **self.admin_credentials(account),
            )
        return self._clients[key]

    def assume_as_service(
        self, role_arn: str, *, session_name: str, service: str, region: str
    ) -> dict[str, str]:
        """Credentials of ``role_arn``, as ``service`` (CodeBuild, ECS, Lambda) gets them.

        The role's trust policy must let ``service`` assume it, as AWS requires."""
        _, _, account, resource = _arn_parts(role_arn)
        role = _backends().iam[account][PARTITION].get_role_by_arn(role_arn)
        trust = json.loads(role.assume_role_policy_document)
        trusted = {
            str(value)
            for statement in trust.get("Statement", [])
            if statement.get("Effect") == "Allow"
            and "sts:AssumeRole" in iam_policy.as_list(statement.get("Action", []))
            for value in iam_policy.as_list(statement.get("Principal", {}).get("Service", []))
        }
        if service not in trusted:
            raise AssertionError(f"{resource} does not trust {service} (trusts {sorted(trusted)})")
        sts = self.client("sts", account=account, region=region)
        credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        return {
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        }

    # ---------------------------------------------------------------- the decision log

    def denied(self, decisions: list[Decision] | None = None) -> list[Decision]:
        return [d for d in (self.decisions if decisions is None else decisions) if not d.allowed]

    def _record(self, decision: Decision) -> None:
        self.decisions.append(decision)

    # ---------------------------------------------------------------- authorization

    def authorize(self, responder: Any, iam_request: Any, moto_resource: str) -> None:
        from moto.iam.access_control import IAMUserAccessKey  # noqa: PLC0415

        access_key = iam_request._access_key
        if isinstance(access_key, IAMUserAccessKey) and access_key.arn.endswith(
            f":user/{ADMIN_USER}"
        ):
            return
        caller = iam_policy.Caller(arn=access_key.arn, account=iam_request.account_id)
        signing_name, _, operation = iam_request._action.partition(":")
        action = iam_action(signing_name, operation)
        region = iam_request._region
        _LAST.caller, _LAST.action = caller.arn, action
        if action == "sts:GetCallerIdentity":  # always allowed, even with a deny
            return
        params = _params(responder)
        try:
            target = target_of(
                action,
                params,
                account=caller.account,
                region=region,
                moto_resource=moto_resource,
                secret_arn=lambda secret: self._secret_arn(secret, caller.account, region),
            )
        except UnmodelledError as error:
            self._record(
                Decision(self.label, caller.arn, action, "?", False, str(error), outcome="denied")
            )
            iam_request._raise_access_denied()
            return
        identity_documents = _documents(access_key.collect_policies())
        for resource in target.resources:
            context = {**_base_context(caller, region, resource), **target.context}
            context.update(_bucket_owner_context(resource))
            allowed, reason = self._decide(action, resource, caller, context, identity_documents)
            self._record(
                Decision(
                    self.label,
                    caller.arn,
                    action,
                    resource,
                    allowed,
                    reason,
                    outcome="authorized" if allowed else "denied",
                )
            )
            if not allowed:
                iam_request._raise_access_denied()
            rule = IMPLIED_BY_ACTION.get(action)
            refused = (
                self._implied_refusal(
                    rule,
                    resource=resource,
                    caller=caller,
                    region=region,
                    identity_documents=identity_documents,
                    responder=responder,
                )
                if rule is not None
                else None
            )
            if refused is not None:
                from moto.core.exceptions import AccessDeniedError  # noqa: PLC0415

                # AWS names the KMS action the caller lacks (KMS.AccessDeniedException).
                raise AccessDeniedError(user_arn=caller.arn, action=refused)
        self._authorize_companions(
            action, params, caller=caller, region=region, identity_documents=identity_documents
        )

    def _authorize_companions(
        self,
        action: str,
        params: Mapping[str, Any],
        *,
        caller: iam_policy.Caller,
        region: str,
        identity_documents: list[Any],
    ) -> None:
        """What AWS checks on the caller besides ``action`` (request_model.companions)."""
        for companion, resource, doc in companions(action, params):
            context = {**_base_context(caller, region, resource), **_bucket_owner_context(resource)}
            allowed, reason = self._decide(companion, resource, caller, context, identity_documents)
            implied_by = f"{action} ({doc})"
            self._record(
                Decision(
                    self.label,
                    caller.arn,
                    companion,
                    resource,
                    allowed,
                    reason,
                    implied_by,
                    "authorized" if allowed else "denied",
                )
            )
            if not allowed:
                from moto.core.exceptions import AccessDeniedError  # noqa: PLC0415

                raise AccessDeniedError(user_arn=caller.arn, action=companion)

    def _decide(
        self,
        action: str,
        resource: str,
        caller: iam_policy.Caller,
        context: Mapping[str, Any],
        identity_documents: list[Any],
    ) -> tuple[bool, str]:
        request = iam_policy.Request(
            action=action, resource=resource, caller=caller, context=context
        )
        identity = iam_policy.evaluate(identity_documents, request)
        try:
            policy, required, owner = self._resource_policy(action, resource)
        except LookupError as missing:
            return False, str(missing)
        verdict = (
            iam_policy.evaluate([policy], request, resource_policy=True)
            if policy is not None
            else None
        )
        if verdict is None and required:
            return False, "the resource has no policy that could allow it"
        return iam_policy.decide(
            identity,
            verdict,
            same_account=owner in {"", caller.account},
            resource_policy_required=required,
        )

    def _resource_policy(self, action: str, resource: str) -> tuple[Any, bool, str]:
        """(policy document or None, whether it must allow, owning account)."""
        service, region, account, rest = _arn_parts(resource)
        if action == "sts:AssumeRole":
            return _trust_policy(resource, account), True, account
        if service == "kms":
            return _key_policy(resource, account, region, rest), True, account
        if service == "s3":
            return _bucket_policy(rest.split("/", 1)[0])
        return _attached_policy(service, resource, account, region, rest), False, account

    def _secret_arn(self, secret_id: str, account: str, region: str) -> str:
        secrets = _backends().secrets[account][region].secrets
        for arn, secret in list(secrets.items()):
            if secret_id in {arn, secret.name} or arn.startswith(secret_id):
                return str(arn)
        if secret_id.startswith("arn:"):
            return secret_id
        return f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_id}-??????"

    # ---------------------------------------------------------------- implied permissions

    def _key_of(self, rule: ImpliedRule, resource: str, responder: Any) -> tuple[str, str] | None:
        """(key reference, encryption context key=value) of the encrypted resource, if any."""
        backends = _backends()
        _, region, account, rest = _arn_parts(resource)
        if rule.via == "sns":
            topic = backends.sns[account][region].topics.get(resource)
            return (topic.kms_master_key_id, f"aws:sns:topicArn={resource}") if topic else None
        if rule.via == "sqs":
            queue = backends.sqs[account][region].queues.get(rest)
            key = getattr(queue, "kms_master_key_id", None) if queue else None
            return (key, f"aws:sqs:arn={resource}") if key else None
        if rule.via == "secretsmanager":
            secret = backends.secrets[account][region].secrets.get(resource)
            key = getattr(secret, "kms_key_id", None) if secret else None
            return (key, f"SecretARN={resource}") if key else None
        if rule.via == "s3":
            return _object_key(rest, responder)
        return None

    def _key_arn(self, key: str, account: str, region: str) -> str | None:
        kms = _backends().kms[account][region]
        key_id = key.rsplit(":key/", 1)[-1] if ":key/" in key else key
        if "alias/" in key:
            alias = "alias/" + key.split("alias/", 1)[1]
            key_id = kms.get_key_id_from_alias(alias) or ""
        found = kms.keys.get(key_id)
        return str(found.arn) if found is not None else None

    def _implied_refusal(
        self,
        rule: ImpliedRule,
        *,
        resource: str,
        caller: iam_policy.Caller,
        region: str,
        identity_documents: list[Any],
        responder: Any,
    ) -> str | None:
        """The KMS action AWS would refuse the caller for ``rule``, or None."""
        found = self._key_of(rule, resource, responder)
        if found is None or not found[0] or is_aws_managed_key(found[0]):
            return None
        key, encryption_context = found
        if key.startswith("arn:"):
            _, key_region, key_account, _ = _arn_parts(key)
        else:
            key_region, key_account = region, _arn_parts(resource)[2] or caller.account
        key_arn = self._key_arn(key, key_account or caller.account, key_region or region)
        implied_by = f"{rule.action} on {resource} ({rule.doc})"
        if key_arn is None:
            self._record(
                Decision(
                    self.label,
                    caller.arn,
                    rule.kms_actions[0],
                    key,
                    False,
                    "the resource's KMS key does not exist",
                    implied_by,
                    "denied",
                )
            )
            return rule.kms_actions[0]
        context_key, _, context_value = encryption_context.partition("=")
        for kms_action in rule.kms_actions:
            context = {
                **_base_context(caller, region, key_arn),
                "kms:ViaService": f"{rule.via}.{region}.amazonaws.com",
                "kms:CallerAccount": caller.account,
                f"kms:EncryptionContext:{context_key}": context_value,
            }
            allowed, reason = self._decide(kms_action, key_arn, caller, context, identity_documents)
            self._record(
                Decision(
                    self.label,
                    caller.arn,
                    kms_action,
                    key_arn,
                    allowed,
                    reason,
                    implied_by,
                    "authorized" if allowed else "denied",
                )
            )
            if not allowed:
                return kms_action
        return None

    # ---------------------------------------------------------------- moto's gaps

    def not_implemented(self, responder: Any, message: str) -> tuple[int, dict[str, str], str]:
        caller, action = getattr(_LAST, "caller", "?"), getattr(_LAST, "action", "?")
        fallback = self.fallbacks.get(action)
        if fallback is not None:
            self._record(
                Decision(
                    self.label,
                    caller,
                    action,
                    "-",
                    True,
                    "moto lacks it",
                    outcome="served by the harness",
                )
            )
            body = fallback(caller, _params(responder))
            return (
                200,
                {"Content-Type": "application/x-amz-json-1.1"},
                json.dumps(body, default=str),
            )
        self._record(
            Decision(self.label, caller, action, "-", True, message, outcome="not implemented")
        )
        error = {"__type": "NotImplemented", "message": f"moto does not implement {action}"}
        return 501, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(error)


# ---------------------------------------------------------------- resource policies and keys


def _trust_policy(role_arn: str, account: str) -> Any:
    try:
        role = _backends().iam[account][PARTITION].get_role_by_arn(role_arn)
    except Exception:
        raise LookupError(f"role {role_arn} does not exist") from None
    return json.loads(role.assume_role_policy_document)


def _key_policy(key_arn: str, account: str, region: str, rest: str) -> Any:
    key = _backends().kms[account][region].keys.get(rest.removeprefix("key/"))
    if key is None:
        raise LookupError(f"KMS key {key_arn} does not exist")
    return json.loads(key.policy)


def _bucket_policy(bucket_name: str) -> tuple[Any, bool, str]:
    """(the bucket's policy or None, False, its owner): the bucket may be in any account."""
    for owner, partitions in list(_backends().s3.items()):
        bucket = partitions[PARTITION].buckets.get(bucket_name)
        if bucket is not None:
            policy = json.loads(bucket.policy) if bucket.policy else None
            return policy, False, owner
    return None, False, ""


def _attached_policy(service: str, resource: str, account: str, region: str, rest: str) -> Any:
    """The optional resource policy of a topic, queue or repository (None: it has none)."""
    backends = _backends()
    if service == "sns":
        topic = backends.sns[account][region].topics.get(resource)
        return topic._policy_json if topic else None
    if service == "sqs":
        holder = backends.sqs[account][region].queues.get(rest)
    elif service == "ecr":
        holder = backends.ecr[account][region].repositories.get(rest.removeprefix("repository/"))
    else:
        return None
    policy = getattr(holder, "policy", None)
    return json.loads(policy) if policy else None


def _object_key(rest: str, responder: Any) -> tuple[str, str] | None:
    """The key an S3 object is written with: the request's, else the bucket's default."""
    context = f"aws:s3:arn=arn:aws:s3:::{rest}"
    header = responder.headers.get("x-amz-server-side-encryption-aws-kms-key-id")
    if header:
        return header, context
    bucket_name = rest.split("/", 1)[0]
    for partitions in list(_backends().s3.values()):
        bucket = partitions[PARTITION].buckets.get(bucket_name)
        if bucket is not None and bucket.encryption:
            default = bucket.encryption.get("Rule", {}).get(
                "ApplyServerSideEncryptionByDefault", {}
            )
            if default.get("SSEAlgorithm") == "aws:kms":
                return default.get("KMSMasterKeyID") or "alias/aws/s3", context
    return None


def _bucket_owner_context(resource: str) -> dict[str, str]:
    """S3 ARNs name no account; AWS sets the bucket owner's as aws:ResourceAccount and
    s3:ResourceAccount (the bootstrap roles' policies condition on both)."""
    service, _, _, rest = _arn_parts(resource)
    if service != "s3":
        return {}
    owner = _bucket_policy(rest.split("/", 1)[0])[2]
    return {"aws:ResourceAccount": owner, "s3:ResourceAccount": owner} if owner else {}


def _base_context(caller: iam_policy.Caller, region: str, resource: str) -> dict[str, Any]:
    context: dict[str, Any] = {
        # The SDKs call AWS over HTTPS; only the local endpoint is plain HTTP.
        "aws:SecureTransport": "true",
        "aws:PrincipalAccount": caller.account,
        "aws:PrincipalArn": caller.role_arn or caller.arn,
        "aws:PrincipalType": "AssumedRole" if caller.role_arn else "User",
        "aws:RequestedRegion": region,
    }
    resource_account = _arn_parts(resource)[2]
    if re.fullmatch(r"\d{12}", resource_account):
        context["aws:ResourceAccount"] = resource_account
    return context


# -------------------------------------------------------------------- the moto hooks

_SERVERS: dict[int, LocalAws] = {}
_LAST = threading.local()
_INSTALLED: list[bool] = []


def _server_for(responder: Any) -> LocalAws | None:
    host = str(responder.headers.get("Host", ""))
    port = host.rsplit(":", 1)[-1] if ":" in host else ""
    return _SERVERS.get(int(port)) if port.isdigit() else None


def _install_enforcement() -> None:
    if _INSTALLED:
        return
    from urllib.parse import urlparse  # noqa: PLC0415

    from moto.core.authorization import ActionAuthenticatorMixin  # noqa: PLC0415
    from moto.core.responses import BaseResponse  # noqa: PLC0415

    original_authorize = ActionAuthenticatorMixin._authenticate_and_authorize_action
    original_call = BaseResponse.call_action

    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        server = _server_for(self)
        if server is None:
            original_authorize(self, iam_request_cls, resource)
            return
        if self.headers.get("X-Amz-Target") in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
            return
        path = self.raw_path
        query = urlparse(self.uri).query
        iam_request = iam_request_cls(
            account_id=self.current_account,
            method=self.method,
            path=f"{path}?{query}" if query else path,
            data=self.data,
            body=self.raw_body,
            headers=self.headers,
            action=self._get_action(),
        )
        iam_request.check_signature()
        server.authorize(self, iam_request, resource)

    def call_action(self: Any) -> Any:
        try:
            return original_call(self)
        except NotImplementedError as error:
            server = _server_for(self)
            if server is None:
                raise
            return server.not_implemented(self, str(error))

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize  # type: ignore[method-assign]
    BaseResponse.call_action = call_action  # type: ignore[method-assign]
    _share_symmetric_key_signing_material()
    _defer_bucket_policies_to_the_harness()
    _combine_describe_alarms_filters()
    _INSTALLED.append(True)


def _combine_describe_alarms_filters() -> None:
    """moto's DescribeAlarms applies only the first of its filters (a name prefix wins over
    StateValue); CloudWatch applies all of them, which the bake relies on.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html"""
    from moto.cloudwatch.responses import CloudWatchResponse  # noqa: PLC0415
    from moto.core.responses import ActionResult  # noqa: PLC0415

    def describe_alarms(self: Any) -> Any:
        prefix = self._get_param("AlarmNamePrefix")
        names = self._get_param("AlarmNames", [])
        state = self._get_param("StateValue")
        action_prefix = self._get_param("ActionPrefix")
        types = self._get_param("AlarmTypes", []) or ["MetricAlarm"]
        alarms = [
            alarm
            for alarm in self.cloudwatch_backend.describe_alarms()
            if (not prefix or alarm.name.startswith(prefix))
            and (not names or alarm.name in names)
            and (not state or alarm.state_value == state)
            and (
                not action_prefix
                or any(str(action).startswith(action_prefix) for action in alarm.alarm_actions)
            )
        ]
        return ActionResult(
            {
                "MetricAlarms": [a for a in alarms if a.rule is None]
                if "MetricAlarm" in types
                else [],
                "CompositeAlarms": (
                    [a for a in alarms if a.rule is not None] if "CompositeAlarm" in types else []
                ),
            }
        )

    CloudWatchResponse.describe_alarms = describe_alarms  # type: ignore[method-assign]


def _defer_bucket_policies_to_the_harness() -> None:
    """moto also applies a bucket policy on its own before object operations, with the same
    evaluator that ignores conditions: the usual "deny unless aws:SecureTransport" statement
    then denies every request. The harness evaluates bucket policies itself (above)."""
    from moto.iam.access_control import PermissionResult  # noqa: PLC0415
    from moto.s3.models import FakeBucket  # noqa: PLC0415

    def get_permission(_self: Any, _action: str, _resource: str) -> Any:
        return PermissionResult.NEUTRAL

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign, assignment]


def _share_symmetric_key_signing_material() -> None:
    """moto generates an RSA-2048 signing key for every KMS key, symmetric ones included
    (~0.3 s each). Symmetric keys never sign, so they share one; asymmetric specs keep
    their own."""
    import moto.kms.models as kms_models  # noqa: PLC0415

    original = kms_models.generate_private_key  # type: ignore[attr-defined]
    shared: list[Any] = []

    def generate_private_key(key_spec: str) -> Any:
        if key_spec != "SYMMETRIC_DEFAULT":
            return original(key_spec)
        if not shared:
            shared.append(original(key_spec))
        return shared[0]

    kms_models.generate_private_key = generate_private_key  # type: ignore[attr-defined]
