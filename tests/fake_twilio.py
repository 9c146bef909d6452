"""A fake of Twilio's REST API on loopback: the only part of the SMS channel the tests do not run
for real (Twilio is outside this machine). A real HTTP server, spoken to by the real twilio
library in the outbox worker and by requests in the channel (media).

* ``POST /2010-04-01/Accounts/{sid}/Messages.json`` records the message and answers as Twilio
  does (201 and a JSON message resource); with basic auth checked.
* WhatsApp numbers in ``closed_windows`` get Twilio's 400 with code 63016 for free text (a
  template, ContentSid, goes through).
* ``fail_next`` answers that many sends with 500; ``mode`` makes every send fail until it is set
  back to ``ok``: ``500``, ``429``, ``drop`` (closes the connection unanswered), ``slow``
  (answers 503 after 0.5 s), ``400:<code>``; ``delay`` slows an accepted send.
* ``GET`` and ``DELETE`` on ``/2010-04-01/Accounts/{sid}/Messages/{mm}/Media/{me}`` serve and
  delete media added with ``add_media``.
"""
from __future__ import annotations

import base64
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"


class FakeTwilio:
    def __init__(self) -> None:
        self.sent: list[dict] = []  # the fields of each accepted send, with its "sid" and "at"
        self.closed_windows: set[str] = set()
        self.fail_next = 0
        self.mode = "ok"
        self.delay = 0.0
        self.requests = 0  # sends tried (authorised, to the Messages resource)
        self.media: dict[str, tuple[bytes, str]] = {}
        self.deleted: list[str] = []
        self.media_fetches: list[str] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _authorised(self) -> bool:
                expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
                    return False
                return True

            def _json(self, status: int, body: dict) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                if self.path != f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json":
                    return self._json(404, {"code": 20404, "message": "not found", "status": 404})
                if not self._authorised():
                    return
                with fake.lock:
                    fake.requests += 1
                    mode = fake.mode
                if mode == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if mode == "slow":
                    time.sleep(0.5)
                    return self._json(503, {"code": 20503, "message": "late", "status": 503})
                if mode.startswith("400:"):
                    code = int(mode[4:])
                    return self._json(400, {"code": code, "message": f"refused {form.get('To')}", "status": 400})
                if mode in ("500", "429"):
                    return self._json(int(mode), {"code": 20000 + int(mode), "message": "down", "status": int(mode)})
                time.sleep(fake.delay)
                with fake.lock:
                    if fake.fail_next > 0:
                        fake.fail_next -= 1
                        return self._json(500, {"code": 20500, "message": "internal error", "status": 500})
                    to = form.get("To", "")
                    if to.startswith("whatsapp:") and to[len("whatsapp:"):] in fake.closed_windows and not form.get("ContentSid"):
                        return self._json(400, {"code": 63016, "message": "outside the allowed window", "status": 400})
                    sid = f"SM{len(fake.sent) + 1:032x}"
                    fake.sent.append({**form, "sid": sid, "at": time.time()})
                return self._json(201, {"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From"),
                                        "body": form.get("Body"), "account_sid": ACCOUNT_SID, "num_segments": "1"})

            def do_GET(self):
                if not self._authorised():
                    return
                with fake.lock:
                    item = fake.media.get(self.path)
                    fake.media_fetches.append(self.path)
                if item is None:
                    return self._json(404, {"code": 20404, "message": "not found", "status": 404})
                data, content_type = item
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_DELETE(self):
                if not self._authorised():
                    return
                with fake.lock:
                    fake.deleted.append(self.path)
                    fake.media.pop(self.path, None)
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> "FakeTwilio":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def accepted(self) -> list[dict]:
        return self.sent

    def add_media(self, data: bytes, content_type: str) -> str:
        path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{uuid.uuid4().hex}/Media/ME{uuid.uuid4().hex}"
        with self.lock:
            self.media[path] = (data, content_type)
        return self.url + path

    def messages_to(self, address: str) -> list[dict]:
        with self.lock:
            return [m for m in self.sent if m.get("To") == address]
