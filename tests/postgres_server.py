"""A throwaway PostgreSQL server for the tests and benchmarks: Debian's binaries, initdb and pg_ctl
on a temporary folder, listening on 127.0.0.1 (and a socket in that folder) on a free port.

initdb refuses to run as root, so under root the server runs as the ``postgres`` user, in a
folder that user owns.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

MISSING = "PostgreSQL is not installed: apt-get install postgresql"


def find_bindir() -> Path | None:
    """The newest PostgreSQL under /usr/lib/postgresql, else the one on PATH."""
    versions = []
    for path in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"):
        match = re.fullmatch(r"\d+", path.parent.parent.name)
        if match:
            versions.append((int(match.group()), path.parent))
    if versions:
        return max(versions)[1]
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One server; ``url(dbname)`` gives a database's URL. ``durable=False`` turns fsync off,
    which is right for tests and wrong for benchmarks."""

    def __init__(self, *, durable: bool = False, max_connections: int = 200):
        self.bindir = find_bindir()
        if self.bindir is None or not (self.bindir / "initdb").exists():
            raise RuntimeError(MISSING)
        self.durable = durable
        self.max_connections = max_connections
        self.folder = Path(tempfile.mkdtemp(prefix="forms-postgres-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.user = "postgres"
        self.as_root = os.geteuid() == 0
        self.started = False

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, cwd=self.folder, capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, "LC_ALL": "C.UTF-8"})
        if result.returncode != 0:
            log = (self.folder / "server.log")
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{tail}")
        return result

    def start(self) -> PostgresServer:
        if self.as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        options = [f"-p {self.port}", "-h 127.0.0.1", f"-k {self.folder}", f"-c max_connections={self.max_connections}"]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", " ".join(options),
                  "-w", "-t", "60", "start")
        self.started = True
        return self

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def stop(self) -> None:
        try:
            if self.started:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
                self.started = False
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def kill(self) -> None:
        """Stop it at once (immediate mode), as a crash would."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "60", "stop")
        self.started = False

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
