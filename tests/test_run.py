"""`make run`'s last step (python -m bot run): starts everything, prints the addresses, and
SIGTERM (as Ctrl-C) stops every process it started."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from bot.processes import free_port
from bot.settings import ROOT

pytestmark = pytest.mark.integration


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_run_starts_everything_prints_the_addresses_and_stops_on_sigterm(tmp_path):
    ports = {"RASA_PORT": free_port(), "ACTION_PORT": free_port(), "WEB_PORT": free_port()}
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'cases.db'}", **{k: str(v) for k, v in ports.items()})
    env.pop("ACTION_SERVER_URL", None)
    env.pop("RASA_PUBLIC_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Press Ctrl-C to stop everything" in line:
                break
        text = "".join(output)
        assert f"http://localhost:{ports['WEB_PORT']}/" in text, text[-3000:]
        assert f"http://localhost:{ports['RASA_PORT']}/" in text
        page = requests.get(f"http://127.0.0.1:{ports['WEB_PORT']}/", timeout=10)
        assert page.status_code == 200 and "Report hate crime or harassment" in page.text
        assert "no-store" in page.headers["Cache-Control"] and "default-src 'self'" in page.headers["Content-Security-Policy"]
        reply = requests.post(f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/rest/webhook",
                              json={"sender": "run-test", "message": "hello"}, timeout=60).json()
        assert any("who is reporting" in m.get("text", "") for m in reply)
        assert (tmp_path / "tracker.db").exists()  # the SQL tracker store, beside the case database
        assert "Outbox worker" in text and "outbox" in text.split("Ready.")[0]  # the fourth process
        from sqlalchemy import func, select

        from bot.db import session_factory
        from bot.models import Officer

        with session_factory(f"sqlite:///{tmp_path / 'cases.db'}")() as s:
            assert s.execute(select(func.count(Officer.id))).scalar_one() >= 10  # demo officers, into an empty table
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(port_open(p) for p in ports.values()):
        time.sleep(0.5)
    assert not any(port_open(p) for p in ports.values()), "a process outlived SIGTERM"
