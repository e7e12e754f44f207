"""A Cognito user pool the way the checks meet it, in moto, and a real API that trusts it.

moto implements AdminCreateUser, AdminSetUserPassword, AdminInitiateAuth
(ADMIN_USER_PASSWORD_AUTH) and AdminDeleteUser, and signs its access tokens (RS256, kid
"dummy", ``iss`` ``https://cognito-idp.<region>.amazonaws.com/<pool>``, ``client_id``,
``token_use`` access) with a key pair it ships. The API under test gets that issuer as
``AUTH_ISSUER`` and moto's published key as its JWKS (served on loopback, the one thing that
differs from AWS), so the token the checks obtain is validated by the code that runs in AWS.

moto's Cognito backend signs with joserfc (its "cognitoidp" extra), which the lock does not
have; ``install_joserfc_shim`` gives it the two calls it makes, on PyJWT (which the API's own
validation uses), as tests/support/local_aws.py does for another optional import.
"""

from __future__ import annotations

import gzip
import json
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from tests.support.api_process import ApiProcess, api_env
from todo_devstack.jwks import JWKS_PATH, running_jwks

REGION = "eu-west-1"
# The web app's client, also accepted (AUTH_CLIENT_ID lists both, as in AWS).
WEB_CLIENT_ID = "webclient0123456789abcdefgh"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # moto's placeholder, not a secret
    "AWS_DEFAULT_REGION": REGION,
}


def install_joserfc_shim() -> None:
    """``joserfc.jwk.RSAKey.import_key`` and ``joserfc.jwt.encode``, as moto calls them."""
    if "joserfc" in sys.modules:
        return
    try:
        import joserfc  # type: ignore[import-not-found]  # noqa: F401, PLC0415
    except ImportError:
        import jwt as pyjwt  # noqa: PLC0415
        from jwt.algorithms import RSAAlgorithm  # noqa: PLC0415

        class RSAKey:
            @staticmethod
            def import_key(value: dict[str, Any]) -> Any:
                return RSAAlgorithm.from_jwk(json.dumps(value))

        def encode(header: dict[str, Any], claims: dict[str, Any], key: Any) -> str:
            return pyjwt.encode(claims, key, algorithm=header["alg"], headers=header)

        root = types.ModuleType("joserfc")
        jwk = types.ModuleType("joserfc.jwk")
        jwt = types.ModuleType("joserfc.jwt")
        jwk.RSAKey = RSAKey  # type: ignore[attr-defined]
        jwt.encode = encode  # type: ignore[attr-defined]
        root.jwk, root.jwt = jwk, jwt  # type: ignore[attr-defined]
        sys.modules.update({"joserfc": root, "joserfc.jwk": jwk, "joserfc.jwt": jwt})


@dataclass(frozen=True)
class Pool:
    cognito: Any  # a boto3 cognito-idp client of the moto server
    user_pool_id: str
    client_id: str

    @property
    def issuer_url(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.user_pool_id}"

    def usernames(self) -> list[str]:
        users = self.cognito.list_users(UserPoolId=self.user_pool_id)["Users"]
        return [
            attribute["Value"]
            for user in users
            for attribute in user["Attributes"]
            if attribute["Name"] == "email"
        ]


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free loopback port: its endpoint URL."""
    install_joserfc_shim()
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def create_pool(endpoint: str) -> Pool:
    """The environment's pool as infra/auth builds it: email sign-in, optional TOTP MFA, the
    password policy, and the checks' client with the admin password flow only."""
    import boto3  # noqa: PLC0415

    cognito = boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    pool = cognito.create_user_pool(
        PoolName="todo-dev",
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        MfaConfiguration="OPTIONAL",
        Policies={
            "PasswordPolicy": {
                "MinimumLength": 12,
                "RequireUppercase": True,
                "RequireLowercase": True,
                "RequireNumbers": True,
                "RequireSymbols": True,
            }
        },
    )["UserPool"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="checks",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    return Pool(cognito=cognito, user_pool_id=pool["Id"], client_id=client["ClientId"])


def moto_public_keys() -> list[dict[str, Any]]:
    """The key moto signs every pool's tokens with, as its JWKS publishes it."""
    resource = resources.files("moto.cognitoidp") / "resources" / "jwks-public.json.gz"
    keys: list[dict[str, Any]] = json.loads(gzip.decompress(resource.read_bytes()))["keys"]
    return keys


@contextmanager
def api_trusting(pool: Pool, tmp_path: Path) -> Iterator[str]:
    """``python -m todo_api`` accepting the pool's tokens for the web and checks clients."""
    with running_jwks(moto_public_keys()) as jwks:
        api = ApiProcess(
            api_env(
                tmp_path,
                AUTH_ISSUER=pool.issuer_url,
                AUTH_CLIENT_ID=f"{WEB_CLIENT_ID},{pool.client_id}",
                AUTH_JWKS_URL=jwks.url + JWKS_PATH,
            )
        )
        try:
            url = str(api.wait_for("Todo API listening on")["url"])
            api.wait_for("Application startup complete")
            yield url
        finally:
            api.proc.terminate()
            api.proc.wait(timeout=30)
