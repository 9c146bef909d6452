"""Command line: python -m bot {run,migrate,model,web,outbox,officers,staff,retention,rotate-keys}."""
from __future__ import annotations

import argparse
from pathlib import Path
import shlex
import sys
import threading
import time

from bot import settings as settings_module


def _wait_ready(urls: list[str], timeout: float) -> bool:
    from bot.processes import wait_until_up

    deadline = time.monotonic() + timeout
    try:
        for url in urls:
            wait_until_up(url, deadline)
    except TimeoutError:
        return False
    return True


def _production_ready(settings: settings_module.Settings) -> str:
    """What the production profile is missing, or "" (it needs PostgreSQL, Redis and nginx)."""
    import shutil

    if not settings.database_url.startswith("postgresql"):
        return "DATABASE_URL must name a PostgreSQL database (postgresql+psycopg2://...)"
    if not settings.tracker_database_url.startswith("postgresql"):
        return "TRACKER_DATABASE_URL must name a PostgreSQL database"
    if not settings.redis_url:
        return "REDIS_URL must be set (redis://host:6379/1): the lock store and the claims on texts use it"
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        return "nginx is not installed (Debian: apt-get install nginx-light)"
    if settings.rasa_instances < 2:
        return "RASA_INSTANCES must be 2 or more"
    return ""


def cmd_run(args: argparse.Namespace) -> int:
    from honcho.manager import Manager
    from honcho.printer import Printer

    from bot import migrate, processes
    from bot.model import ensure_model

    settings = settings_module.load()
    production = getattr(args, "production", False)
    if production and _production_ready(settings):
        print(f"Cannot start the production profile: {_production_ready(settings)}.", file=sys.stderr)
        return 2
    migrate.upgrade(settings.database_url)
    _demo_officers(settings)
    _demo_console(settings)
    model = ensure_model()
    env = processes.environment(settings)
    if production:
        from bot.production import Deployment

        deployment = Deployment.plan(settings, settings_module.VAR / "nginx", settings.rasa_instances,
                                     public_host=settings.public_host)
        procs = deployment.procs(settings, model)
    else:
        procs = [processes.action_server(settings), processes.rasa_server(settings, model)]
    procs += [processes.web_server(settings), processes.outbox_worker(settings)]

    manager = Manager(Printer(sys.stdout))
    for proc in procs:
        manager.add_process(proc.name, shlex.join(proc.argv), env=env, cwd=str(settings_module.ROOT))

    def announce() -> None:
        if _wait_ready([p.health_url for p in procs if p.health_url], timeout=300):
            print(
                "\n  Ready.\n"
                f"  Demo landlord page with the chat widget: http://localhost:{settings.web_port}/\n"
                f"  Rasa server (REST, socket.io, HTTP API): http://localhost:{settings.rasa_port}/\n"
                f"  SMS and WhatsApp webhook (Twilio):       http://localhost:{settings.rasa_port}/webhooks/twilio/webhook"
                f"{'' if settings.twilio_auth_token else ' (refuses all: TWILIO_AUTH_TOKEN is not set)'}\n"
                f"  Action server:                           http://localhost:{settings.action_port}/health\n"
                f"  Outbox worker:                           sending notifications and replies to texts "
                f"(on-call: {settings.on_call_contact.split(':')[0]})\n"
                "  Press Ctrl-C to stop everything.\n",
                flush=True,
            )

    threading.Thread(target=announce, daemon=True).start()
    manager.loop()
    return manager.returncode or 0


def _demo_officers(settings: settings_module.Settings) -> None:
    """Demo officers into an empty officers table, so a call can be booked on a fresh clone."""
    from bot.booking.officers import DEMO_OFFICERS, ensure_demo_officers
    from bot.db import session_factory

    loaded = ensure_demo_officers(session_factory(settings.database_url))
    if loaded:
        print(f"Loaded {loaded} demo officers ({DEMO_OFFICERS.relative_to(settings_module.ROOT)}) "
              "into the empty officers table; `python -m bot officers load FILE` loads yours.", flush=True)


def _migrated():
    """The settings and a session factory on the case database, migrated to the latest schema."""
    from bot import migrate
    from bot.db import session_factory

    settings = settings_module.load()
    migrate.upgrade(settings.database_url)
    return settings, session_factory(settings.database_url)


def _demo_console(settings: settings_module.Settings) -> None:
    """Demo accounts and cases for the console, into an empty development (SQLite) database only."""
    from bot.console.demo import DEMO_PASSWORD, DEMO_STAFF, ensure_demo, is_development
    from bot.db import session_factory

    if not is_development(settings):
        return
    accounts, cases = ensure_demo(session_factory(settings.database_url), settings)
    if accounts:
        names = ", ".join(username for username, _, _ in DEMO_STAFF)
        print(f"Console demo accounts {names}, password {DEMO_PASSWORD} (this machine's development database "
              "only; `python -m bot staff add` makes real ones).", flush=True)
    if cases:
        print("Loaded demo cases into the empty development database.", flush=True)


def cmd_officers_load(args: argparse.Namespace) -> int:
    from bot.booking.officers import OfficerFileError, load_officers

    _, factory = _migrated()
    try:
        loaded = load_officers(factory, args.file)
    except OfficerFileError as exc:
        print(f"Nothing loaded: {args.file} has {len(exc.errors)} problem(s):", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"Nothing loaded: cannot read {args.file} ({exc.strerror})", file=sys.stderr)
        return 1
    print(f"{loaded.total} officers in {args.file}: {loaded.created} added, {loaded.updated} updated, "
          f"{loaded.unchanged} unchanged")
    return 0


def cmd_migrate(_: argparse.Namespace) -> int:
    from bot import migrate

    migrate.upgrade(settings_module.load().database_url)
    return 0


def cmd_model(_: argparse.Namespace) -> int:
    from bot.model import ensure_model

    print(ensure_model())
    return 0


def cmd_web(_: argparse.Namespace) -> int:
    from bot.web.app import serve

    serve(settings_module.load())
    return 0


def cmd_outbox(_: argparse.Namespace) -> int:
    from bot.outbox import serve

    serve(settings_module.load())
    return 0


def cmd_staff_add(args: argparse.Namespace) -> int:
    """An account for the officers' console; the password from STAFF_PASSWORD or asked for (never an argument)."""
    import getpass
    import os

    from bot.console.auth import AccountError, add_staff

    settings, factory = _migrated()
    password = os.environ.get("STAFF_PASSWORD") or getpass.getpass("Password (at least 12 characters): ")
    try:
        add_staff(factory, username=args.username, name=args.name, role=args.role, password=password,
                  actor="command-line")
    except AccountError as exc:
        print(f"Not added: {exc}", file=sys.stderr)
        return 1
    print(f"Added {args.username.strip().lower()} ({args.role}). Sign in at "
          f"http://localhost:{settings.web_port}/console/")
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    """Anonymise the closed cases kept long enough, and delete what is only kept for a while.
    Prints counts only, never anything about a person."""
    from bot.console.privacy import anonymise_due, purge

    settings, factory = _migrated()
    days = settings.retention_days if args.days is None else args.days
    done = anonymise_due(factory, settings, days=days, dry_run=args.dry_run)
    purged = purge(factory, dry_run=args.dry_run)
    verb = "would be" if args.dry_run else "were"
    print(f"{len(done)} closed case(s) {verb} anonymised ({days} days after closing, appeal window passed); "
          f"{purged['inbound_messages']} handled text(s) and {purged['evidence']} unclaimed file(s) {verb} deleted.")
    return 0


def cmd_rotate_keys(args: argparse.Namespace) -> int:
    """Re-encrypt every encrypted value with the newest key in DATA_KEYS (and encrypt any written before
    encryption), in batches, beside the running service. Prints counts only."""
    from bot.crypto import DataKeyError, rotate_all

    settings, _ = _migrated()
    try:
        done = rotate_all(settings.database_url, settings.tracker_database_url, batch=args.batch)
    except DataKeyError as exc:
        print(f"Stopped: {exc}", file=sys.stderr)
        return 1
    for name, counts in done.items():
        if counts.rotated or counts.encrypted or counts.current or counts.changed:
            print(f"{name}: {counts.rotated} re-encrypted, {counts.encrypted} encrypted (were plain), "
                  f"{counts.current} already current, {counts.changed} changed meanwhile (left as written)")
    print(f"{sum(c.rotated + c.encrypted for c in done.values())} value(s) rewritten with the newest key "
          f"({len(done)} columns).")
    if any(c.changed for c in done.values()):
        print("Some rows changed while this ran: run it again once every process has the new key first.")
    else:
        print("Once every process runs with the new key first, older keys can be removed from DATA_KEYS.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="migrate, train if needed, and start every process")
    run.add_argument("--production", action="store_true",
                     help="RASA_INSTANCES Rasa and action servers behind nginx, on PostgreSQL and Redis")
    run.set_defaults(func=cmd_run)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("model", help="train the model if data or config changed; print its path").set_defaults(func=cmd_model)
    sub.add_parser("web", help="serve the website (chat page)").set_defaults(func=cmd_web)
    sub.add_parser("outbox", help="send notifications from the outbox until SIGTERM").set_defaults(func=cmd_outbox)
    officers = sub.add_parser("officers", help="officers who take calls").add_subparsers(dest="action", required=True)
    load = officers.add_parser("load", help="add or update officers from a YAML or CSV file (by code; all or none)")
    load.add_argument("file", help="a .yml, .yaml or .csv roster (bot/booking/officers.py describes the fields)")
    load.set_defaults(func=cmd_officers_load)
    staff = sub.add_parser("staff", help="accounts for the officers' console").add_subparsers(dest="action", required=True)
    add = staff.add_parser("add", help="add an account (the password from STAFF_PASSWORD, or asked for)")
    add.add_argument("username")
    add.add_argument("--name", required=True, help="their full name")
    add.add_argument("--role", required=True, choices=["officer", "team_leader", "admin"])
    add.set_defaults(func=cmd_staff_add)
    retention = sub.add_parser("retention", help="anonymise closed cases kept RETENTION_DAYS (the worker: daily)")
    retention.add_argument("--dry-run", action="store_true", help="count what would be done; change nothing")
    retention.add_argument("--days", type=int, help="days after closing (default RETENTION_DAYS)")
    retention.set_defaults(func=cmd_retention)
    rotate = sub.add_parser("rotate-keys", help="re-encrypt stored data with the newest key in DATA_KEYS")
    rotate.add_argument("--batch", type=int, default=200, help="rows per transaction (default 200)")
    rotate.set_defaults(func=cmd_rotate_keys)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
