"""A PostgreSQL server of a test's own (initdb in a temporary folder, its own port), to stop and start
in fault tests without touching the machine's shared server."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time

from bot.processes import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (Debian: apt-get install postgresql)")
    return found[-1]


class PrivatePostgres:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="hcbot-pg-")
        self.port = free_port()
        self.data = os.path.join(self.dir, "data")
        self.user = "postgres"
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            shutil.chown(self.dir, self.user)
        self._run([_bin("initdb"), "-D", self.data, "--auth=trust", "-U", "postgres", "--no-sync"])

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, argv: list[str]) -> None:
        if os.geteuid() == 0:
            argv = ["runuser", "-u", self.user, "--", *argv]
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def start(self) -> "PrivatePostgres":
        self._run([_bin("pg_ctl"), "-D", self.data, "-l", os.path.join(self.dir, "server.log"), "-w", "-o",
                   f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start"])
        deadline = time.monotonic() + 30
        while subprocess.run([_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                             stdout=subprocess.DEVNULL).returncode != 0:
            if time.monotonic() > deadline:
                raise TimeoutError("the private PostgreSQL did not start")
            time.sleep(0.2)
        return self

    def stop(self) -> None:
        self._run([_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop"])

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
