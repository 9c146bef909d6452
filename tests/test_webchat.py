"""The widget's socket.io channel against the real Rasa server, with real socket.io clients:
a conversation belongs to the token the server issued, and nothing is lost or repeated across a
reconnect."""
from __future__ import annotations

import threading
import time

import pytest
import requests
import socketio

pytestmark = pytest.mark.integration


class Client:
    def __init__(self, stack, headers=None):
        self.stack = stack
        self.messages: list[dict] = []
        self.confirm: dict | None = None
        self.ui: list[dict] = []
        self.typing: list[bool] = []
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("session_confirm", self._confirm)
        self.sio.on("bot_uttered", self._bot)
        self.sio.on("ui", lambda data: self.ui.append(data))
        self.sio.on("bot_typing", lambda data: self.typing.append(data["typing"]))
        self.sio.connect(stack.rasa_url, socketio_path="/socket.io", transports=["polling"], headers=headers or {})

    def _confirm(self, data):
        self.confirm = data

    def _bot(self, data):
        with self.lock:
            self.messages.append(data)

    def start(self, token=None, last_seen=None, lang=None) -> dict:
        self.confirm = None
        self.sio.emit("session_request", {"token": token, "last_seen": last_seen, "lang": lang})
        wait(lambda: self.confirm is not None)
        return self.confirm

    def send(self, text: str, msg_id: str | None = None, extra=None) -> dict:
        return self.sio.call("user_uttered", {"message": text, "id": msg_id, **(extra or {})}, timeout=60)

    def texts(self) -> list[str]:
        with self.lock:
            return [m["text"] for m in self.messages]

    def wait_text(self, part: str, timeout=30) -> None:
        wait(lambda: any(part in t for t in self.texts()), timeout)

    def close(self):
        self.sio.disconnect()


def wait(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def tracker(stack, sender):
    r = requests.get(f"{stack.rasa_url}/conversations/{sender}/tracker",
                     params={"token": stack.settings.rasa_auth_token}, timeout=30)
    return r.json()


def sender_of(token: str) -> str:
    return token.split(".")[1]


@pytest.fixture
def client(sqlite_stack):
    made = []

    def make(**kwargs):
        c = Client(sqlite_stack, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        try:
            c.close()
        except Exception:
            pass


def test_the_server_issues_the_session_and_greets(client):
    a = client()
    confirm = a.start()
    assert confirm["resumed"] is False and confirm["token"].count(".") == 3
    assert confirm["lang"] == "en" and confirm["dir"] == "ltr" and confirm["ui"]["exit"] == "Exit this page"
    a.wait_text("who is reporting")
    assert all(isinstance(m["seq"], float) and m["lang"] == "en" and m["dir"] == "ltr" for m in a.messages)
    question = next(m for m in a.messages if "who is reporting" in m["text"])
    assert question["quick_replies"][0]["title"] == "It's happening to me"
    assert a.typing[:1] == [True]


def test_a_second_client_cannot_join_or_read_another_conversation(client, sqlite_stack):
    a = client()
    token = a.start()["token"]
    a.wait_text("who is reporting")
    assert a.send("The man at number 4 shouts abuse at me", "a-1")["ok"]
    victim = sender_of(token)

    b = client()
    # Rasa's own channel let a client name any session id: here the id, a made-up token, an altered
    # token or a token signed with another secret all start a new conversation of b's own.
    for forged in (victim, f"v1.{victim}.{int(time.time())}.AAAA", token[:-3] + "abc", None):
        confirm = b.start(token=forged, last_seen=0)
        assert confirm["resumed"] is False and sender_of(confirm["token"]) != victim
    b.wait_text("who is reporting")
    # A message naming the victim's session id goes into b's own conversation.
    assert b.send("hello there", "b-1", extra={"session_id": victim, "sender": victim})["ok"]
    time.sleep(1.5)
    assert not any("shouts abuse" in t for t in b.texts())
    victim_texts = [e.get("text") for e in tracker(sqlite_stack, victim)["events"] if e["event"] == "user"]
    assert "hello there" not in victim_texts and "The man at number 4 shouts abuse at me" in victim_texts
    # And the victim's socket got none of b's replies.
    assert len([t for t in a.texts() if "who is reporting" in t]) == 1


def test_a_reconnect_loses_nothing_and_repeats_nothing(client, sqlite_stack):
    a = client()
    token = a.start()["token"]
    a.wait_text("who is reporting")
    seen = max(m["seq"] for m in a.messages)
    # The network drops right after a message is sent: its reply comes while no socket listens.
    a.sio.emit("user_uttered", {"message": "It's happening to me", "id": "m-1"})
    time.sleep(0.05)
    a.close()
    time.sleep(3)
    b = client()
    confirm = b.start(token=token, last_seen=seen)
    assert confirm["resumed"] is True and confirm["token"] == token
    b.wait_text("what happened")
    assert not any("who is reporting" in t for t in b.texts())  # nothing it had already shown
    # The browser resends the message it never had an acknowledgement for: handled once.
    assert b.send("It's happening to me", "m-1")["ok"]
    time.sleep(1)
    users = [e for e in tracker(sqlite_stack, sender_of(token))["events"] if e["event"] == "user"]
    assert [e["text"] for e in users].count("It's happening to me") == 1
    seqs = [m["seq"] for m in b.messages]
    assert len(seqs) == len(set(seqs)) and seqs == sorted(seqs)


def test_a_message_too_long_or_empty_gets_a_reason_not_an_error(client):
    a = client()
    a.start()
    a.wait_text("who is reporting")
    assert a.send("x" * 2001, "long") == {"ok": False, "reason": "too_long"}
    assert a.send("   ", "empty") == {"ok": False, "reason": "empty"}
    b = client()  # no session asked for yet
    assert b.send("hello", "x") == {"ok": False, "reason": "no_session"}
    assert a.send("hello", "after")["ok"]  # and the conversation carries on


def test_the_page_language_starts_the_conversation_and_a_switch_relabels_the_widget(client):
    a = client()
    confirm = a.start(lang="cy")
    assert confirm["lang"] == "cy" and confirm["ui"]["send"] != "Send"
    wait(lambda: a.messages and a.messages[-1]["lang"] == "cy")
    assert a.send('/choose_language{"language": "ar"}', "lang-1")["ok"]
    wait(lambda: a.ui and a.ui[-1]["lang"] == "ar")
    assert a.ui[-1]["dir"] == "rtl"
    wait(lambda: a.messages[-1]["lang"] == "ar" and a.messages[-1]["dir"] == "rtl")


def test_a_page_from_another_origin_cannot_open_the_chat(sqlite_stack):
    with pytest.raises(socketio.exceptions.ConnectionError):
        Client(sqlite_stack, headers={"Origin": "https://evil.example"})
