"""Real servers for the remote state backends: PostgreSQL (initdb + pg_ctl from the machine's
PostgreSQL server binaries) and moto_server (an S3 that honours If-None-Match and If-Match), each
on a free loopback port in a private directory, each stopped by its PID.

.ci/run starts both once for the whole suite and exports their addresses:

    exports=$(python tests/servers.py start DIR)  # export NP_TEST_PG_URL=...; NP_TEST_S3_URL
    eval "$exports"
    python tests/servers.py stop DIR              # stops the PIDs recorded in DIR/pids

Run alone, the tests start their own (see the fixtures in conftest.py).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PG_URL_VARIABLE = "NP_TEST_PG_URL"
S3_URL_VARIABLE = "NP_TEST_S3_URL"
PG_USER = "np_admin"
_STARTUP_SECONDS = 60


class ServerUnavailable(RuntimeError):
    """The server could not be started here (no binaries); the message says what is missing."""


@dataclass
class Started:
    url: str
    pid: int
    home: Path
    stop_signal: signal.Signals = signal.SIGQUIT
    """SIGQUIT is PostgreSQL's immediate shutdown (its data is thrown away); moto's SIGTERM."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise ServerUnavailable(
            "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin "
            "(apt-get install postgresql)"
        )
    return Path(found[-1]).parent


def _as_postgres(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: drop to the postgres user when we are root."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


def start_postgres(home: Path) -> Started:
    """initdb in ``home`` with a random password, then pg_ctl start on a free loopback port."""
    binaries = postgres_bin()
    home.mkdir(parents=True, exist_ok=True)
    data = home / "data"
    password = secrets.token_urlsafe(16)
    pwfile = home / "pwfile"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (home, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        home.chmod(0o700)
    subprocess.run(
        _as_postgres(
            [
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-U",
                PG_USER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ]
        ),
        check=True,
        capture_output=True,
    )
    pwfile.unlink()
    for _ in range(5):  # a free port may be taken between finding it and binding it
        port = _free_port()
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {home}"
        done = subprocess.run(
            _as_postgres(
                [
                    str(binaries / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(home / "server.log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    str(_STARTUP_SECONDS),
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            pid = int((data / "postmaster.pid").read_text().split()[0])
            return Started(
                f"postgresql://{PG_USER}:{password}@127.0.0.1:{port}/postgres", pid, home
            )
    log = (home / "server.log").read_text() if (home / "server.log").exists() else ""
    raise RuntimeError(f"PostgreSQL did not start: {done.stderr}\n{log[-2000:]}")


def start_moto(home: Path) -> Started:
    """moto_server on a free loopback port; returns once it answers."""
    launcher = Path(sys.executable).parent / "moto_server"
    if not launcher.exists():
        raise ServerUnavailable(f"{launcher} is missing (pip install 'moto[s3]' flask flask-cors)")
    home.mkdir(parents=True, exist_ok=True)
    log = (home / "moto.log").open("w")
    for _ in range(5):
        port = _free_port()
        proc = subprocess.Popen(
            [str(launcher), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + _STARTUP_SECONDS
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return Started(f"http://127.0.0.1:{port}", proc.pid, home, signal.SIGTERM)
            except OSError:
                time.sleep(0.1)
        proc.kill()
        proc.wait()
    raise RuntimeError(f"moto_server did not start: {(home / 'moto.log').read_text()[-2000:]}")


def stop(pid: int, sig: signal.Signals) -> None:
    """Stop one server by PID and wait until it is gone (SIGKILL after 30 s)."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:  # our own child (moto started by this process): reap it
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def _main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: servers.py start|stop DIR", file=sys.stderr)
        return 2
    command, home = argv[0], Path(argv[1])
    pids = home / "pids"
    if command == "stop":
        for line in pids.read_text().splitlines() if pids.exists() else []:
            pid, sig = line.split()
            stop(int(pid), signal.Signals[sig])
        shutil.rmtree(home, ignore_errors=True)
        return 0
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o711)  # the postgres user must reach its data directory inside
    exports = []
    for variable, start, sub in (
        (PG_URL_VARIABLE, start_postgres, "pg"),
        (S3_URL_VARIABLE, start_moto, "s3"),
    ):
        started = start(Path(tempfile.mkdtemp(prefix=f"np-{sub}-", dir=home)))
        with pids.open("a") as file:  # recorded at once, so stop works after a partial start
            file.write(f"{started.pid} {started.stop_signal.name}\n")
        exports.append(f"export {variable}='{started.url}'")
    print("\n".join(exports))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
