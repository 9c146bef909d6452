"""The production profile (bot/production.py): two Rasa servers and two action servers behind nginx,
on PostgreSQL and Redis, with the web process and the outbox worker, all real processes.

- Many messages for one conversation, sent at once to both Rasa servers, are each handled once and
  one after the other, with no event lost or doubled in the tracker (the atomic lock store).
- Texts from one number reaching both servers at once are handled once each, in arrival order.
- A conversation through nginx goes on, from where it was, when a Rasa server is killed; an action
  server killed likewise. The web chat works through nginx (sticky socket.io).
"""
from __future__ import annotations

import collections
import concurrent.futures
import signal
import uuid

import pytest
import requests
from sqlalchemy import select

from bot.db import session_factory
from bot.models import InboundMessage
from tests.test_integration import Chat
from tests.test_twilio import Phone

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def prod(production_stack):
    return production_stack


def instance_url(prod, n: int) -> str:
    return f"http://127.0.0.1:{prod.deployment.rasa_ports[n]}"


def post_rest(url: str, sender: str, text: str) -> requests.Response:
    return requests.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=120)


def turns(events: list[dict]) -> list[list[dict]]:
    """The tracker's events cut at each user message: one list per turn, the user event first."""
    out: list[list[dict]] = []
    for event in events:
        if event["event"] == "user":
            out.append([event])
        elif out:
            out[-1].append(event)
    return out


def test_the_profile_runs_two_of_each_behind_nginx(prod):
    assert {"rasa-1", "rasa-2", "actions-1", "actions-2", "nginx", "web", "outbox"} <= set(prod.procs)
    for port in prod.deployment.rasa_ports:
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).ok
    conf = prod.deployment.conf.read_text()
    assert "ip_hash" in conf and "least_conn" in conf and "access_log off" in conf
    assert requests.get(f"{prod.rasa_url}/health", timeout=10).ok  # the web process, through nginx


def test_messages_for_one_conversation_sent_at_once_to_both_servers_are_each_handled_once_in_turn(prod):
    sender = uuid.uuid4().hex
    post_rest(prod.rasa_url, sender, "hello").raise_for_status()
    texts = [f"my neighbour shouted at me on day {n}" for n in range(24)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda pair: post_rest(instance_url(prod, pair[0] % 2), sender, pair[1]),
                                enumerate(texts)))
    assert all(r.status_code == 200 for r in answers), [r.status_code for r in answers]
    assert all(r.json() for r in answers)  # each got its own reply

    events = Chat(prod, sender).tracker()["events"]
    said = collections.Counter(e["text"] for e in events if e["event"] == "user")
    assert all(said[text] == 1 for text in texts), said  # none lost, none doubled
    for turn in turns(events)[1:]:
        # A turn ran whole before the next began: it ends listening, and listens only once.
        actions = [e["name"] for e in turn if e["event"] == "action"]
        assert actions and actions[-1] == "action_listen" and actions.count("action_listen") == 1, actions
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    ids = [(e["event"], e["timestamp"], e.get("name"), e.get("text")) for e in events]
    assert len(ids) == len(set(ids))  # no event written twice


def test_texts_from_one_number_reaching_both_servers_are_handled_once_each_in_arrival_order(prod, fake_twilio):
    phone = Phone(prod, fake_twilio)
    phone.say("hello")
    factory = session_factory(prod.settings.database_url)
    before = len(phone.received())
    bodies = [f"text number {n} about the noise" for n in range(8)]
    sids = ["SM" + uuid.uuid4().hex for _ in bodies]
    for n, (body, sid) in enumerate(zip(bodies, sids)):  # in order, alternately to each server
        phone.url = f"{instance_url(prod, n % 2)}/webhooks/twilio/webhook"
        answer = phone.post(body, sid=sid, url=prod.settings.twilio_webhook_url)
        assert answer.status_code == 200, answer.text

    def all_done():
        with factory() as s:
            rows = s.execute(select(InboundMessage).where(InboundMessage.message_sid.in_(sids))).scalars().all()
            return len(rows) == len(sids) and all(r.status == "done" for r in rows)

    from tests.test_webchat import wait

    wait(all_done, timeout=180)
    phone.wait_replies(before, timeout=60)
    events = phone.tracker()["events"]
    handled = [e.get("message_id") for e in events if e["event"] == "user" and e.get("message_id") in sids]
    assert handled == sids  # each once, in the order they came
    with factory() as s:
        ids = [s.execute(select(InboundMessage.id).where(InboundMessage.message_sid == sid)).scalar_one()
               for sid in sids]
    assert ids == sorted(ids)


def test_a_conversation_goes_on_through_the_other_server_when_one_is_killed(prod):
    chat = Chat(prod)  # through nginx
    chat.say("hello")
    chat.say('/choose{"value":"victim"}')
    chat.say("my neighbour shouts at me and bangs on my walls")
    prod.procs["rasa-1"].send_signal(signal.SIGKILL)
    prod.procs["rasa-1"].wait()
    try:
        for _ in range(3):  # nginx learns at the first refused connection; none of these may fail
            reply = chat.say("abusive words")
            if "because of who you are" in reply:
                break
        assert "because of who you are" in reply
        assert chat.slot("description") == "my neighbour shouts at me and bangs on my walls"
    finally:
        del prod.procs["rasa-1"]
        prod.start(only="rasa-1")


def test_the_web_chat_works_through_nginx_with_sticky_sessions(prod):
    from tests.test_webchat import Client

    client = Client(prod)
    try:
        confirm = client.start()
        client.wait_text("who is reporting", timeout=60)
        client.send("It's happening to me")
        client.wait_text("what happened", timeout=60)
        assert confirm["token"]
    finally:
        client.close()


def test_no_server_failed_on_the_way(prod):
    logs = prod.logs()
    assert "Traceback" not in logs and "Failed to execute custom action" not in logs
    assert "my neighbour shouts at me" not in logs  # nor logged anything people wrote


def test_run_prod_refuses_to_start_without_postgresql_redis_and_nginx(monkeypatch, tmp_path, capsys):
    from bot.__main__ import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cases.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert main(["run", "--production"]) == 2
    assert "DATABASE_URL must name a PostgreSQL database" in capsys.readouterr().err
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    monkeypatch.setenv("TRACKER_DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    assert main(["run", "--production"]) == 2
    assert "REDIS_URL must be set" in capsys.readouterr().err
