"""The service's real start, with the real built image: `docker run` the way Fargate runs it.

    python -m ops.images.start_check --service api --image local/api:pr --assembly cdk.out
    (`make image-start SERVICE=api`, in the pull-request workflow after `make image-build`)

The container is the service's one in the synthesized task definition of ENVIRONMENT
(ops.images.fargate reads it and the Dockerfile): its user, the read-only root filesystem, each
mount as Fargate creates it, its environment. The values that exist only once deployed point
at local stand-ins: DATABASE_SECRET_ARN at a secret in moto holding credentials of a
PostgreSQL container with TLS, DATABASE_HOST at an RDS Proxy-like name for which a throwaway
CA issued the server certificate (a wildcard, as RDS Proxy's ACM certificate is),
EVENTS_TOPIC_ARN at a moto topic with every consumer's queue subscribed as the dev stack
subscribes them (todo_devstack.topology, from the service registry), a consumer's QUEUE_URL
at its own queue there, AUTH_ISSUER and AUTH_CLIENT_ID at a local issuer whose JWKS is served
on loopback (todo_devstack.jwks), which signs the probes' access token. The CA is trusted only
inside the app container, by a bind mount of the image's own CA bundle plus the CA over the
bundle file, so verify-full passes exactly when the app verifies against the operating
system's trust store, as it must against RDS Proxy.

Healthy, by the service's kind in the registry: an http service answers its
health_check_path, a consumer's task health command exits 0 within its timeout. The api
also answers /api/ready and a todo written through it is read back (and, in the local test,
reaches the activity feed through the topic, the worker's queue and the worker). The local
test (tests/services/test_container_start.py) checks the same without Docker, with the same
stand-ins and probes from this module.
"""

from __future__ import annotations

import argparse
import datetime
import json
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from config.cloud_assembly import read_cloud_assembly
from config.exit_codes import FAILURE, SUCCESS
from config.paths import ASSEMBLY_DIR, ROOT
from ops.common import CommandError, cloud_assembly_or_exit
from ops.images.fargate import (
    FargateSpecError,
    ImageSpec,
    TaskContainer,
    container_user,
    fargate_mounts,
    read_dockerfile,
    task_container,
    task_environment,
)

if TYPE_CHECKING:
    from todo_devstack.registry import Registry, ServiceSpec

SERVICES_DIR = ROOT / "services"
# The one service with a check of its own beyond its kind's: a todo written and read back.
API_SERVICE = "api"
# The same image as the pull-request workflow's PostgreSQL service, from ECR Public.
POSTGRES_IMAGE = (
    "public.ecr.aws/docker/library/postgres:16-alpine"
    "@sha256:57c72fd2a128e416c7fcc499958864df5301e940bca0a56f58fddf30ffc07777"
)
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# moto accepts any credentials; they stand in for the task role's container credentials.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
DATABASE_NAME = "todo"
DATABASE_USER = "todo_app"
START_TIMEOUT_SECONDS = 60.0


class StartCheckError(CommandError):
    """The service did not become healthy; the message says what was seen."""


def proxy_domain(region: str) -> str:
    """Where RDS Proxy endpoints live; its certificate is a wildcard for one such domain."""
    return f"proxy-startcheck.{region}.rds.amazonaws.com"


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    certificate: Path
    key: Path


def write_tls(directory: Path, *, domain: str) -> TlsFiles:
    """A throwaway CA and a server certificate for ``*.<domain>`` it issued."""
    from cryptography import x509  # noqa: PLC0415 - only the start checks need it
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "todo start check CA")])

    def issued(
        subject: x509.Name, key: ec.EllipticCurvePrivateKey, extensions: list[tuple[Any, bool]]
    ) -> x509.Certificate:
        """A day-long certificate for ``key`` that the throwaway CA signed."""
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical)
        return builder.sign(ca_key, hashes.SHA256())

    key_usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    ca = issued(
        ca_name, ca_key, [(x509.BasicConstraints(ca=True, path_length=0), True), (key_usage, True)]
    )
    server = issued(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"*.{domain}")]),
        server_key,
        [
            (x509.SubjectAlternativeName([x509.DNSName(f"*.{domain}")]), False),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        ],
    )
    files = TlsFiles(directory / "ca.pem", directory / "server.crt", directory / "server.key")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.certificate.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files.key.chmod(0o600)
    return files


def trusting_bundle(system_bundle: str, ca: Path) -> str:
    """The operating system's bundle with the throwaway CA appended (what the app trusts)."""
    return system_bundle.rstrip("\n") + "\n" + ca.read_text(encoding="ascii")


def hosts_file(host: str) -> str:
    return f"127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.0.1\t{host}\n"


@dataclass(frozen=True)
class DatabaseStandIn:
    """A PostgreSQL reached through ``host`` (DATABASE_HOST) as RDS Proxy is."""

    host: str
    port: int
    password: str
    username: str = DATABASE_USER
    dbname: str = DATABASE_NAME

    def secret_string(self, region: str) -> str:
        # RDS writes the cluster's own endpoint; the services reach the proxy (DATABASE_HOST).
        return json.dumps(
            {
                "engine": "postgres",
                "host": f"todo.cluster-startcheck.{region}.rds.amazonaws.com",
                "port": self.port,
                "username": self.username,
                "password": self.password,
                "dbname": self.dbname,
            }
        )


def new_password() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class IssuerStandIn:
    """Cognito's place: the issuer the api trusts, and an access token it signed."""

    url: str
    client_id: str
    token: str

    @property
    def values(self) -> dict[str, str]:
        return {"AUTH_ISSUER": self.url, "AUTH_CLIENT_ID": self.client_id}


@contextmanager
def issuer_stand_in() -> Iterator[IssuerStandIn]:
    """A signing key whose JWKS is served on 127.0.0.1 (the task's network is the host's in
    both checks) until the block ends, and a token for the probes."""
    from todo_devstack.jwks import Signer, access_claims, running_jwks  # noqa: PLC0415

    signer = Signer("start-check")
    with running_jwks([signer.jwk]) as endpoint:
        client_id = "startcheckclient"
        claims = access_claims(issuer_url=endpoint.url, app_client=client_id, subject="start")
        yield IssuerStandIn(url=endpoint.url, client_id=client_id, token=signer.sign(claims))


@dataclass(frozen=True)
class LocalAws:
    """The stand-ins created in the local AWS, for every service's task."""

    secret_arn: str
    database_host: str
    topic_arn: str
    # Each consumer's own queue, subscribed to the topic.
    queues: dict[str, str]

    def stand_ins(self, container: TaskContainer, issuer: IssuerStandIn) -> dict[str, str]:
        """The values for the deploy-time variables ``container``'s environment has."""
        values = {
            "DATABASE_SECRET_ARN": self.secret_arn,
            "DATABASE_HOST": self.database_host,
            "EVENTS_TOPIC_ARN": self.topic_arn,
            **issuer.values,
        }
        if container.name in self.queues:
            values["QUEUE_URL"] = self.queues[container.name]
        unresolved = {key for key, value in container.environment.items() if value is None}
        return {key: value for key, value in values.items() if key in unresolved}


def seed_local_aws(
    endpoint_url: str,
    *,
    region: str,
    database: DatabaseStandIn,
    name: str,
    consumers: Mapping[str, Sequence[str]],
) -> LocalAws:
    """The secret, the event topic and the consumers' queues in the local AWS."""
    import boto3  # noqa: PLC0415 - slow import

    from todo_devstack.topology import create_topology  # noqa: PLC0415 - make dev's topology

    def client(service: Literal["secretsmanager", "sqs", "sns"]) -> Any:
        # In the task's region, as the services' clients use it (moto keeps each per region).
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=endpoint_url,
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    secret = client("secretsmanager").create_secret(
        Name=f"{name}/database", SecretString=database.secret_string(region)
    )
    sqs = client("sqs")
    topology = create_topology(client("sns"), sqs, name, consumers)
    return LocalAws(
        secret_arn=secret["ARN"],
        database_host=database.host,
        topic_arn=topology.topic_arn,
        queues={service: queues.url for service, queues in topology.queues.items()},
    )


def local_aws_environment(endpoint_url: str) -> dict[str, str]:
    """What points the SDK at the local AWS (in a task: its role's container credentials)."""
    return {"AWS_ENDPOINT_URL": endpoint_url, **LOCAL_CREDENTIALS}


# ------------------------------------------------------------------ probes


def _request(
    url: str, body: Mapping[str, Any] | None = None, *, token: str | None = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - loopback http to the service under test
        url, data=data, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 # nosec B310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def wait_until(
    probe: Callable[[], str | None], *, timeout: float, alive: Callable[[], str | None]
) -> None:
    """Until ``probe`` returns None (done); each other return says why not yet.

    ``alive`` returns why the service is gone (exited), which ends the wait at once."""
    deadline = time.monotonic() + timeout
    reason = "not tried"
    while time.monotonic() < deadline:
        if gone := alive():
            raise StartCheckError(f"{gone} (last probe: {reason})")
        try:
            outcome = probe()
        except OSError as error:
            outcome = f"{type(error).__name__}: {error}"
        if outcome is None:
            return
        reason = outcome
        time.sleep(0.3)
    raise StartCheckError(f"not healthy within {timeout:.0f} s: {reason}")


def _answers(base_url: str, path: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        status, body = _request(base_url + path)
        return None if status == 200 else f"GET {path}: {status} {body}"

    return probe


def check_http_health(
    base_url: str, path: str, *, timeout: float, alive: Callable[[], str | None]
) -> None:
    """An http service's probe: its registered health_check_path answers 200."""
    wait_until(_answers(base_url, path), timeout=timeout, alive=alive)


def check_api(base_url: str, *, token: str, timeout: float, alive: Callable[[], str | None]) -> str:
    """The api's own: readiness (a database round-trip) and a todo written and read back with
    an access token (its signing key fetched from the issuer); its id."""
    wait_until(_answers(base_url, "/api/ready"), timeout=timeout, alive=alive)
    status, refused = _request(base_url + "/api/todos")
    if status != 401:
        raise StartCheckError(f"GET /api/todos without a token: {status} {refused}")
    created_body = {"text": "started as Fargate starts it"}
    status, created = _request(base_url + "/api/todos", created_body, token=token)
    if status != 201:
        raise StartCheckError(f"POST /api/todos: {status} {created}")
    status, listed = _request(base_url + "/api/todos", token=token)
    if status != 200 or created["id"] not in [todo["id"] for todo in listed]:
        raise StartCheckError(f"GET /api/todos: {status}, the new todo missing: {listed}")
    return str(created["id"])


def check_activity(
    base_url: str, todo_id: str, *, token: str, timeout: float, alive: Callable[[], str | None]
) -> None:
    """The worker recorded the todo's event for its owner (api -> outbox -> SQS -> worker ->
    database)."""

    def probe() -> str | None:
        status, activity = _request(base_url + "/api/activity", token=token)
        if status == 200 and todo_id in [entry["todoId"] for entry in activity]:
            return None
        return f"GET /api/activity: {status} {activity}"

    wait_until(probe, timeout=timeout, alive=alive)


def check_health_command(
    run: Callable[[Sequence[str]], subprocess.CompletedProcess[str]],
    container: TaskContainer,
    *,
    timeout: float,
    alive: Callable[[], str | None],
) -> subprocess.CompletedProcess[str]:
    """The task definition's health command, run in the container, exits 0 within its own
    timeout (as ECS runs it); the last run."""
    if not container.health_command:
        raise StartCheckError(f"{container.name}: the task definition has no health check")
    runs: list[subprocess.CompletedProcess[str]] = []

    def probe() -> str | None:
        started = time.monotonic()
        runs.append(run(container.health_command or ()))
        took = time.monotonic() - started
        if runs[-1].returncode == 0 and took <= (container.health_timeout or 5):
            return None
        return f"exit {runs[-1].returncode} in {took:.1f} s: {runs[-1].stderr.strip()}"

    wait_until(probe, timeout=timeout, alive=alive)
    return runs[-1]


# ------------------------------------------------------------------ docker


def docker_run_argv(
    *,
    image_ref: str,
    name: str,
    image: ImageSpec,
    container: TaskContainer,
    environment: Mapping[str, str],
    binds: Sequence[tuple[Path, str]] = (),
) -> list[str]:
    """``docker run`` of the task definition's container on the host network (a task's
    awsvpc interface is its own; the host's stands in for it). The image's ENV, WORKDIR and
    CMD are the image's own; ``environment`` is what ECS adds."""
    user = container_user(image, container)
    argv = ["docker", "run", "--detach", "--name", name, "--network", "host"]
    argv += ["--user", f"{user.uid}:{user.gid}"]
    if container.readonly_root:
        argv.append("--read-only")
    for mount in fargate_mounts(image, container):
        if mount.from_image:
            # A new anonymous volume: Docker copies the image's directory (contents, owner,
            # mode) into it, as Fargate does for a path the image declares as a VOLUME.
            spec = f"type=volume,dst={mount.path}"
        else:
            # Fargate's empty bind mount: root-owned, 0755.
            spec = f"type=tmpfs,dst={mount.path},tmpfs-mode={mount.directory.mode:o}"
        argv += ["--mount", spec + (",readonly" if mount.read_only else "")]
    for source, target in binds:
        argv += ["--mount", f"type=bind,src={source},dst={target},readonly"]
    for key, value in sorted(environment.items()):
        argv += ["--env", f"{key}={value}"]
    return [*argv, image_ref]


PG_HBA = (
    # The entrypoint's own setup talks over the container's socket; every client over TCP
    # must use TLS and a password, as with RDS Proxy (require_tls).
    "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n"
)


def postgres_argv(*, name: str, tls_dir: Path, database: DatabaseStandIn) -> list[str]:
    """A PostgreSQL container with TLS from ``tls_dir`` on 127.0.0.1:``database.port``."""
    # postgres insists that its key belongs to it with mode 0600, and the bind-mounted
    # directory is the runner's: the files are copied in, owned by postgres, before start.
    files = "/var/lib/postgresql"
    script = (
        f"install -o postgres -g postgres -m 0600 /tls/server.crt /tls/server.key "
        f"/tls/pg_hba.conf {files}/ && exec docker-entrypoint.sh postgres "
        f"-c port={database.port} -c listen_addresses=127.0.0.1 -c ssl=on "
        f"-c hba_file={files}/pg_hba.conf -c ssl_cert_file={files}/server.crt "
        f"-c ssl_key_file={files}/server.key"
    )
    return [
        *("docker", "run", "--detach", "--name", name, "--network", "host"),
        *("--mount", f"type=bind,src={tls_dir},dst=/tls,readonly"),
        *("--env", f"PGPORT={database.port}", "--env", f"POSTGRES_USER={database.username}"),
        *("--env", f"POSTGRES_PASSWORD={database.password}"),
        *("--env", f"POSTGRES_DB={database.dbname}"),
        *("--entrypoint", "sh", POSTGRES_IMAGE, "-c", script),
    ]


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - docker with fixed arguments, no shell
        ["docker", *args],  # noqa: S607 - the docker CLI the runner provides, on PATH
        capture_output=True,
        text=True,
        check=check,
    )


def _container_gone(name: str) -> Callable[[], str | None]:
    def gone() -> str | None:
        state = _docker("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name)
        status, code = state.stdout.split()
        return None if status == "running" else f"{name} is {status} (exit {code})"

    return gone


def wait_for_tls_database(database: DatabaseStandIn, ca: Path, *, timeout: float) -> None:
    """Until the database answers over verify-full TLS (reached at 127.0.0.1 by its name)."""
    import psycopg  # noqa: PLC0415

    def probe() -> str | None:
        try:
            psycopg.connect(
                host=database.host,
                hostaddr="127.0.0.1",
                port=database.port,
                user=database.username,
                password=database.password,
                dbname=database.dbname,
                sslmode="verify-full",
                sslrootcert=str(ca),
                connect_timeout=2,
            ).close()
        except psycopg.OperationalError as error:
            return str(error).strip()
        return None

    wait_until(probe, timeout=timeout, alive=lambda: None)


@dataclass(frozen=True)
class Service:
    name: str
    image: ImageSpec
    container: TaskContainer
    spec: ServiceSpec
    # Every consumer of the registry and what it consumes: the topic's subscriptions.
    consumers: dict[str, tuple[str, ...]]


def read_registry() -> Registry:
    """The service registry of the checkout (or of DELIVERY_CONFIG), as make dev reads it."""
    from todo_devstack.registry import load_registry, registry_file  # noqa: PLC0415

    return load_registry(registry_file(ROOT))


def load_service(service: str, assembly: Path, environment: str, registry: Registry) -> Service:
    if service not in registry.services:
        raise StartCheckError(
            f"not in the service registry (it has {', '.join(sorted(registry.services))})"
        )
    templates = read_cloud_assembly(assembly).templates(environment)
    if not templates:
        raise FargateSpecError(f"{assembly}: no stacks of environment {environment!r}")
    return Service(
        name=service,
        image=read_dockerfile(SERVICES_DIR / service / "Dockerfile"),
        container=task_container(templates.values(), service),
        spec=registry.services[service],
        consumers=registry.consumers(),
    )


def run_docker_check(service: Service, image_ref: str, work: Path) -> None:
    """Start the stand-ins and the service's container; raise unless it becomes healthy."""
    from todo_devstack.sqs import free_port, start_moto  # noqa: PLC0415

    region = service.container.region
    database = DatabaseStandIn(
        host=f"todo.{proxy_domain(region)}", port=free_port(), password=new_password()
    )
    tls = write_tls(work, domain=proxy_domain(region))
    (work / "pg_hba.conf").write_text(PG_HBA)
    for path in work.iterdir():
        path.chmod(0o644)  # read by the containers' own users; the key is copied to 0600
    names = [f"start-check-{service.name}-db", f"start-check-{service.name}"]
    for name in names:  # left over by an interrupted run on this machine
        _docker("rm", "--force", "--volumes", name, check=False)
    moto_port = free_port()
    moto = start_moto(moto_port)
    try:
        with issuer_stand_in() as issuer:
            _docker(*postgres_argv(name=names[0], tls_dir=work, database=database)[1:])
            wait_for_tls_database(database, tls.ca, timeout=START_TIMEOUT_SECONDS)
            endpoint = f"http://127.0.0.1:{moto_port}"
            local = seed_local_aws(
                endpoint,
                region=region,
                database=database,
                name=names[1],
                consumers=service.consumers,
            )
            bundle = _docker("run", "--rm", "--entrypoint", "cat", image_ref, SYSTEM_BUNDLE).stdout
            (work / "bundle.crt").write_text(trusting_bundle(bundle, tls.ca))
            (work / "hosts").write_text(hosts_file(database.host))
            environment = {
                **task_environment(service.container, local.stand_ins(service.container, issuer)),
                **local_aws_environment(endpoint),
            }
            argv = docker_run_argv(
                image_ref=image_ref,
                name=names[1],
                image=service.image,
                container=service.container,
                environment=environment,
                binds=[(work / "bundle.crt", SYSTEM_BUNDLE), (work / "hosts", "/etc/hosts")],
            )
            print("start check:", " ".join(argv), flush=True)
            _docker(*argv[1:])
            _probe_service(service, names[1], token=issuer.token)
    except subprocess.CalledProcessError as error:
        raise StartCheckError(f"{' '.join(error.cmd)}: {error.stderr.strip()}") from None
    finally:
        for name in names:
            print(_docker("logs", name, check=False).stdout[-6000:], file=sys.stderr)
            _docker("rm", "--force", "--volumes", name, check=False)
        moto.terminate()
        moto.wait(timeout=10)


def _probe_service(service: Service, name: str, *, token: str) -> None:
    """The probes of the service's kind (and the api's own round trip)."""
    alive = _container_gone(name)
    if service.spec.kind == "http":
        if not service.container.ports:
            raise StartCheckError(f"{service.name}: an http service whose task maps no port")
        base_url = f"http://127.0.0.1:{service.container.ports[0]}"
        check_http_health(
            base_url,
            service.spec.health_check_path or "/",
            timeout=START_TIMEOUT_SECONDS,
            alive=alive,
        )
        print(f"start check: {service.name} answers {service.spec.health_check_path}", flush=True)
        if service.name == API_SERVICE:
            todo_id = check_api(base_url, token=token, timeout=START_TIMEOUT_SECONDS, alive=alive)
            print(f"start check: {service.name} healthy, todo {todo_id} stored", flush=True)
    if service.spec.kind == "consumer":

        def run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
            return _docker("exec", name, *command, check=False)

        check_health_command(run, service.container, timeout=START_TIMEOUT_SECONDS, alive=alive)
        print(f"start check: {service.name} health command exits 0", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start a built image as Fargate starts it")
    parser.add_argument("--service", required=True)
    parser.add_argument("--image", required=True, help="the local image reference")
    parser.add_argument("--assembly", type=Path, default=ASSEMBLY_DIR)
    parser.add_argument("--environment", default="dev")
    args = parser.parse_args(argv)
    cloud_assembly_or_exit(args.assembly, command="start check")
    from todo_devstack.registry import RegistryError  # noqa: PLC0415

    try:
        service = load_service(args.service, args.assembly, args.environment, read_registry())
        with tempfile.TemporaryDirectory(prefix="start-check-") as work:
            run_docker_check(service, args.image, Path(work))
    except (FargateSpecError, StartCheckError, RegistryError, OSError) as error:
        print(f"start check: {args.service}: {error}", file=sys.stderr)
        return error.exit_code if isinstance(error, CommandError) else FAILURE
    print(f"start check: {args.service} started as Fargate starts it and is healthy")
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
