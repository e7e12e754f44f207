"""Start a service the way Fargate starts it, without Docker (root only).

A private mount namespace (`unshare --mount`, nothing leaks to the host) gets a new root: an
empty tmpfs holding the host's /usr and /etc read-only (the image is Debian too), the image's
files as its Dockerfile copies them (/app), a virtualenv built from the service's lock with
hashes (/opt/venv, the image's wheels), and each task definition mount as Fargate creates it
(ops.images.fargate). The root is then made read-only, the process is chrooted into it, drops
to the image's user with setpriv, and starts with only the image's ENV and the task
definition's environment: nothing of the test's own environment (which, on this machine,
sets SSL_CERT_FILE and would hide a missing trust store).

Namespace-only files: /etc/passwd and /etc/group with the image's accounts, /etc/hosts with
the stand-in database host, and /etc/ssl/certs/ca-certificates.crt = the system bundle plus
the test's throwaway CA.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from config.paths import ROOT
from ops.images.fargate import ImageSpec, Mount
from ops.images.start_check import (
    PG_HBA,
    SYSTEM_BUNDLE,
    DatabaseStandIn,
    TlsFiles,
    hosts_file,
    trusting_bundle,
)

UV = ROOT / ".venv-bootstrap" / "bin" / "uv"
SERVICES_DIR = ROOT / "services"
REQUIRED_TOOLS = ("unshare", "nsenter", "setpriv", "chroot", "mount")
POSTGRES_BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
# The unprivileged owner of the test's PostgreSQL (postgres refuses to run as root).
NOBODY = 65534
HOST_DIRECTORIES = ("usr", "etc")


def unavailable_reason() -> str | None:
    """Why this machine cannot start a service as Fargate does, or None."""
    if os.geteuid() != 0:
        return "needs root (a private mount namespace, chroot, setpriv)"
    if missing := [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]:
        return f"missing {', '.join(missing)}"
    if not POSTGRES_BINARIES:
        return "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
    if not UV.exists():
        return f"{UV} is missing (make install)"
    return None


# ------------------------------------------------------------------ the image's wheels


def service_venv(image: ImageSpec, cache: Path) -> Path:
    """A virtualenv with exactly the image's wheels (its lock, hashes required), built once
    per lock content into ``cache``."""
    if image.lock is None:
        raise AssertionError("the Dockerfile installs no lock into a venv")
    lock = SERVICES_DIR / image.lock
    tag = image.base.split("@", 1)[0].rsplit("/", 1)[-1].partition(":")[2]
    image_python = tag.split("-", 1)[0]
    ours = f"{sys.version_info.major}.{sys.version_info.minor}"
    if image_python != ours:
        raise AssertionError(f"the image runs Python {image_python}, these tests {ours}")
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()[:16]
    venv = cache / f"venv-{digest}"
    with FileLock(str(cache / f"venv-{digest}.lock")):
        if not (venv / ".complete").exists():
            shutil.rmtree(venv, ignore_errors=True)
            base = Path(sys.base_prefix) / "bin" / f"python{ours}"
            _run([str(UV), "venv", "--quiet", "--python", str(base), str(venv)])
            _run(
                [
                    *(str(UV), "pip", "install", "--quiet", "--python", str(venv / "bin/python")),
                    *("--require-hashes", "--no-deps", "--only-binary", ":all:"),
                    *("-r", str(lock)),
                ]
            )
            if image.venv in image.compiled:
                _compile(venv / "bin/python", venv, image.venv)
            (venv / ".complete").touch()
    return venv


def _compile(python: Path, directory: Path, shown_as: str) -> None:
    _run([str(python), "-m", "compileall", "-q", "-d", shown_as, str(directory)])


def _run(command: Sequence[str]) -> None:
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise AssertionError(f"{shlex.join(command)}: {completed.stderr[-2000:]}")


# ------------------------------------------------------------------ the TLS database


@contextmanager
def tls_postgres(tls: TlsFiles, database: DatabaseStandIn) -> Iterator[DatabaseStandIn]:
    """A throwaway PostgreSQL cluster on 127.0.0.1:``database.port`` that only accepts TLS
    with a password (like RDS Proxy with require_tls), its certificate from ``tls``, with the
    application's role and database."""
    bin_dir = POSTGRES_BINARIES[-1].parent
    home = Path(tempfile.mkdtemp(prefix="todo-tls-pg-"))
    try:
        os.chown(home, NOBODY, NOBODY)
        for source in (tls.certificate, tls.key):
            shutil.copy(source, home / source.name)
            os.chown(home / source.name, NOBODY, NOBODY)
        (home / "hba.conf").write_text(PG_HBA.replace("local all all trust\n", ""))
        (home / "pw").write_text(database.password)
        os.chown(home / "pw", NOBODY, NOBODY)
        as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        _run([*as_nobody, str(bin_dir / "initdb"), "-D", str(home / "data"), "-U", "postgres",
              f"--pwfile={home / 'pw'}", "--auth=scram-sha-256"])  # fmt: skip
        options = {
            "listen_addresses": "127.0.0.1",
            "port": str(database.port),
            "unix_socket_directories": str(home),
            "ssl": "on",
            "ssl_cert_file": str(home / tls.certificate.name),
            "ssl_key_file": str(home / tls.key.name),
            "hba_file": str(home / "hba.conf"),
        }
        _run([*as_nobody, str(bin_dir / "pg_ctl"), "-D", str(home / "data"), "-w",
              "-l", str(home / "log"), "-o", " ".join(f"-c {k}={v}" for k, v in options.items()),
              "start"])  # fmt: skip
        try:
            _create_application_database(tls, database)
            yield database
        finally:
            _run([*as_nobody, str(bin_dir / "pg_ctl"), "-D", str(home / "data"), "-m", "fast",
                  "stop"])  # fmt: skip
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _create_application_database(tls: TlsFiles, database: DatabaseStandIn) -> None:
    import psycopg  # noqa: PLC0415
    from psycopg import sql  # noqa: PLC0415

    with psycopg.connect(
        host=database.host,
        hostaddr="127.0.0.1",
        port=database.port,
        user="postgres",
        password=database.password,
        dbname="postgres",
        sslmode="verify-full",
        sslrootcert=str(tls.ca),
        autocommit=True,
    ) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(database.username), sql.Literal(database.password)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(database.dbname), sql.Identifier(database.username)
            )
        )


# ------------------------------------------------------------------ the container


@dataclass
class FargateProcess:
    """A service started as Fargate starts it; ``exec`` runs a command in its container."""

    process: subprocess.Popen[bytes]
    root: Path
    prelude: list[str]
    log: Path
    mounts: list[Mount] = field(default_factory=list)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def gone(self) -> str | None:
        code = self.process.poll()
        return None if code is None else f"exited {code}: {self.output()[-3000:]}"

    def exec(self, command: Sequence[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """``command`` in the container: its mounts and root, user, environment, directory."""
        enter = ["nsenter", f"--target={self.process.pid}", "--mount", "--"]
        return subprocess.run(
            [*enter, *self.prelude, *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def _stage_image_files(image: ImageSpec, staged: Path, venv: Path) -> None:
    """The image's own files (its Dockerfile's COPYs from services/) and directories."""
    for source, destination in image.files:
        target = staged / destination.lstrip("/")
        shutil.copytree(
            SERVICES_DIR / source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        if any(destination.startswith(path) for path in image.compiled):
            _compile(venv / "bin/python", target, destination)
    for path, directory in image.directories.items():
        target = staged / path.lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        os.chown(target, directory.uid, directory.gid)
        target.chmod(directory.mode)


def _volume(mount: Mount, staged: Path, volumes: Path, index: int) -> Path:
    """The directory Fargate would create for ``mount`` (see ops.images.fargate)."""
    volume = volumes / str(index)
    image_directory = staged / mount.path.lstrip("/")
    if mount.from_image and image_directory.is_dir():
        shutil.copytree(image_directory, volume, symlinks=True)
    else:
        volume.mkdir(parents=True)
    os.chown(volume, mount.directory.uid, mount.directory.gid)
    volume.chmod(mount.directory.mode)
    return volume


def _identity_files(image: ImageSpec, work: Path, host: str, ca: Path) -> dict[str, Path]:
    passwd = ["root:x:0:0:root:/root:/usr/sbin/nologin"] + [
        f"{a.name}:x:{a.uid}:{a.gid}::{a.home}:/usr/sbin/nologin" for a in image.accounts.values()
    ]
    group = ["root:x:0:"] + [f"{name}:x:{gid}:" for name, gid in image.groups.items()]
    files = {
        "/etc/passwd": "\n".join(passwd) + "\n",
        "/etc/group": "\n".join(group) + "\n",
        "/etc/hosts": hosts_file(host),
        SYSTEM_BUNDLE: trusting_bundle(Path(SYSTEM_BUNDLE).read_text(encoding="ascii"), ca),
    }
    written = {}
    for index, (path, text) in enumerate(files.items()):
        written[path] = work / f"etc-{index}"
        written[path].write_text(text)
        written[path].chmod(0o644)
    return written


def _root_script(
    root: Path,
    binds: Sequence[tuple[Path, str, bool]],
    readonly_root: bool,
) -> list[str]:
    """Shell lines (run as root in the private namespace) that build the container's root."""
    lines = [f"mount -t tmpfs -o mode=0755 container-root {shlex.quote(str(root))}"]
    for name in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            lines.append(f"ln -s {shlex.quote(str(host.readlink()))} {root / name}")
    targets = [*(f"/{d}" for d in HOST_DIRECTORIES), "/dev", "/proc", *(t for _, t, _ in binds)]
    for target in dict.fromkeys(targets):
        if not target.startswith(("/etc/", "/usr/")):  # file binds land on the host's files
            lines.append(f"mkdir -p {shlex.quote(str(root) + target)}")
    for directory in HOST_DIRECTORIES:
        lines.append(f"mount --bind -o ro /{directory} {root}/{directory}")
    lines += [f"mount --rbind /dev {root}/dev", f"mount --bind /proc {root}/proc"]
    for source, target, read_only in binds:
        options = "-o ro " if read_only else ""
        lines.append(
            f"mount --bind {options}{shlex.quote(str(source))} {shlex.quote(str(root) + target)}"
        )
    if readonly_root:
        lines.append(f"mount -o remount,ro {shlex.quote(str(root))}")
    return lines


def start(
    image: ImageSpec,
    *,
    readonly_root: bool,
    mounts: list[Mount],
    venv: Path,
    environment: Mapping[str, str],
    user: tuple[int, int],
    database_host: str,
    ca: Path,
    work: Path,
) -> FargateProcess:
    """Start the image's CMD as Fargate would (see the module docstring)."""
    staged, volumes, root = work / "image", work / "volumes", work / "root"
    for directory in (staged, volumes, root):
        directory.mkdir(parents=True)
    _stage_image_files(image, staged, venv)
    binds: list[tuple[Path, str, bool]] = [
        (staged / child.name, f"/{child.name}", True) for child in sorted(staged.iterdir())
    ]
    interpreter = Path(sys.base_prefix)
    if not interpreter.is_relative_to("/usr"):
        binds.append((interpreter, str(interpreter), True))
    binds.append((venv, image.venv or "/opt/venv", True))
    for index, mount in enumerate(mounts):
        volume = _volume(mount, staged, volumes, index)
        binds.append((volume, mount.path, mount.read_only))
    for path, source in _identity_files(image, work, database_host, ca).items():
        binds.append((source, path, True))
    uid, gid = user
    prelude = [
        *("chroot", str(root)),
        *("setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"),
        *("env", "-i", "-C", image.workdir, *(f"{k}={v}" for k, v in environment.items())),
    ]
    script = [*_root_script(root, binds, readonly_root), f"exec {shlex.join(prelude)} "
              + shlex.join(image.cmd)]  # fmt: skip
    log = work / "service.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-ec", "\n".join(script)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return FargateProcess(process=process, root=root, prelude=prelude, log=log, mounts=mounts)


def listening_on_all_interfaces(port: int) -> bool:
    """Something listens on 0.0.0.0:``port`` (what a load balancer reaches in awsvpc mode)."""
    wanted = f"00000000:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted and fields[3] == "0A":
            return True
    return False
