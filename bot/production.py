"""The production profile: several Rasa servers and action servers behind nginx, on PostgreSQL
(cases and trackers) and Redis (the atomic lock store, bot/rasa_ext/locks.py, and the claims on
texts), with the web process and the outbox worker. `make run-prod` starts it with honcho; the
tests and `make bench` start the same processes through bot.processes.Stack.

What listens where (the ports are the settings'; ``n`` runs from 1 to RASA_INSTANCES):

- nginx on RASA_PORT: the one address people and Twilio use (RASA_PUBLIC_URL, TWILIO_WEBHOOK_URL). ``/socket.io/`` goes to a Rasa
  server chosen by the client's address (``ip_hash``: socket.io's long-polling needs every request
  of a session on the server that holds it); ``/webhooks/`` (REST, Twilio) and the HTTP API to
  the least busy Rasa server; everything else (the widget's page and files, the console, the
  partner API) to the web process.
- nginx on ACTION_PORT (loopback only): the action servers, least busy first. The Rasa servers
  call actions through it, so an action server can die and the other takes the next call.
- Rasa server ``n`` on RASA_PORT + n, action server ``n`` on ACTION_PORT + n (loopback only).
- The web process on WEB_PORT, the outbox worker (no port).

A Rasa server that stops answering is taken out for 5 seconds (``max_fails``/``fail_timeout``) and
a request it refused before reading goes to the other; a request already sent is never replayed
(it may have been handled). Nothing here keeps state: every conversation is in the tracker store,
so any Rasa server can carry on any conversation.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from bot.processes import Proc, action_server, nginx, rasa_server
from bot.settings import Settings

_CONF = """# Written by bot/production.py: do not edit (it is rewritten at every start).
worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}

http {{
    access_log off;  # no addresses or paths of people kept
    server_tokens off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    # Nothing people write is put on nginx's disk: bodies are kept in memory (the public side takes
    # at most 1 MB, far above MAX_MESSAGE_CHARS; the action servers' trackers up to 32 MB), and
    # answers are passed on as they come, never buffered to a file.
    client_max_body_size 1m;
    client_body_buffer_size 1m;
    proxy_buffer_size 64k;
    proxy_buffers 32 64k;
    proxy_max_temp_file_size 0;

    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}

    upstream rasa {{
        least_conn;
{rasa_servers}
        keepalive 64;
    }}
    upstream rasa_sticky {{
        ip_hash;
{rasa_servers}
    }}
    upstream actions {{
        least_conn;
{action_servers}
        keepalive 64;
    }}
    upstream web {{
        server 127.0.0.1:{web_port};
        keepalive 16;
    }}

    server {{
        listen {public_host}:{public_port};
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_read_timeout 120s;

        location = /nginx-health {{ return 200 "ok\\n"; }}
        location /socket.io/ {{
            proxy_pass http://rasa_sticky;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 300s;
        }}
        location ~ ^/(webhooks|conversations|model|status|version)(/|$) {{
            proxy_pass http://rasa;
            proxy_set_header Connection "";
        }}
        location / {{
            proxy_pass http://web;
            proxy_set_header Connection "";
        }}
    }}

    server {{
        listen 127.0.0.1:{action_port};
        client_max_body_size 32m;
        client_body_buffer_size 32m;
        location / {{
            proxy_pass http://actions;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


@dataclass(frozen=True)
class Deployment:
    conf: Path
    public_port: int
    rasa_ports: tuple
    action_ports: tuple

    @classmethod
    def plan(cls, settings: Settings, conf_dir: Path, instances: int, ports: Optional[list[int]] = None,
             public_port: Optional[int] = None, public_host: str = "127.0.0.1") -> "Deployment":
        """Write nginx's configuration for ``instances`` of each server; the instances' ports are
        ``ports`` (Rasa's first, then the action servers'), or the settings' ports plus 1..n."""
        if ports is None:
            ports = [settings.rasa_port + n for n in range(1, instances + 1)]
            ports += [settings.action_port + n for n in range(1, instances + 1)]
        rasa_ports, action_ports = tuple(ports[:instances]), tuple(ports[instances:2 * instances])
        public_port = public_port or settings.rasa_port
        conf_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (conf_dir / "tmp" / sub).mkdir(parents=True, exist_ok=True)

        def servers(found: tuple) -> str:
            return "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in found)

        conf = conf_dir / "nginx.conf"
        conf.write_text(_CONF.format(dir=conf_dir, rasa_servers=servers(rasa_ports),
                                     action_servers=servers(action_ports), web_port=settings.web_port,
                                     public_host=public_host, public_port=public_port,
                                     action_port=settings.action_port), encoding="utf-8")
        return cls(conf, public_port, rasa_ports, action_ports)

    def procs(self, settings: Settings, model: Path) -> list[Proc]:
        out = [action_server(settings, port=p, name=f"actions-{n}") for n, p in enumerate(self.action_ports, 1)]
        out += [rasa_server(settings, model, port=p, name=f"rasa-{n}") for n, p in enumerate(self.rasa_ports, 1)]
        out.append(nginx(self.conf, self.public_port))
        return out
