"""The website widget's socket.io channel: conversations a client cannot choose or read.

Rasa 3.6's own socket.io channel takes the session id a client sends as the conversation's
sender id, unchecked, and puts every socket that names it in the same room: anyone who learns
or guesses an id reads that person's replies and can write into their report. Here:

* the server issues each new conversation an id and the browser only ever holds a token signed
  with the server's secret (bot/channels/tokens.py); a socket is bound to the conversation its
  token names when it asks for a session, and every message it sends goes to that conversation,
  whatever the message says;
* replies go to the sockets bound to the conversation, never to a room a client can name;
* each bot message carries ``seq`` (its event's timestamp in the tracker). After a reconnect the
  browser says the last one it showed and gets exactly the ones after it, read from the tracker,
  so nothing is lost or shown twice; each user message carries an id the browser chose and is
  handled once, however often it is resent before its acknowledgement arrives;
* every bot message carries its language and text direction, and the widget's own words come in
  the conversation's language (bot/web/ui_text.py).

Protocol (the widget, bot/web/static/widget.js, speaks it):
  C->S session_request {token|null, last_seen|null, lang|null}
  S->C session_confirm {token, resumed, lang, dir, native, ui}
  S->C bot_uttered     {seq, text, quick_replies: [{title, payload}], lang, dir}
  S->C bot_typing      {typing}
  S->C ui              {lang, dir, native, ui}            (the conversation's language changed)
  C->S user_uttered    {message, id} -> ack {ok: true} | {ok: false, reason[, text]}

Rate limits (bot/ratelimit.py): each message counts against its session (RATE_PER_SENDER) and the
client's address (RATE_PER_ADDRESS; X-Forwarded-For only from TRUSTED_PROXIES); over either, the
message is not taken and the ack is {ok: false, reason: "rate_limited", text} (the widget shows its
"rate_limited" words: wait a minute, send it again, 999). A new session counts against the address:
over it the session is still given, without the greeting.

Several Rasa instances need sticky routing of a socket to one instance (the replay comes from
the tracker store, so a reconnect to another instance still loses nothing).
"""
from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint
from rasa.shared.core.events import BotUttered
from sanic import Blueprint, response
from socketio import AsyncServer

from bot import settings as settings_module
from bot.channels.tokens import issue_web_session, secret_key, verify_web_session
from bot.languages import LANGUAGES
from bot.ratelimit import Limits, kind_message
from bot.rasa_ext.said import DEFAULT_LANGUAGE, buttons_of, with_language
from bot.web.ui_text import ui_text

logger = logging.getLogger(__name__)

REMEMBERED_IDS = 500  # message ids remembered per conversation (a resend comes within seconds)
REMEMBERED_CONVERSATIONS = 10_000  # conversations whose message ids are remembered (the latest)


class _Blueprint(SocketBlueprint):
    """Rasa's blueprint that attaches the socket.io server, keeping the app (for the agent)."""

    def register(self, app, options):
        self.ctx.app = app
        super().register(app, options)


@dataclass
class _Socket:
    sender: str
    last_sent: float = 0.0
    lang: str = DEFAULT_LANGUAGE
    address: str = ""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _origins(settings: settings_module.Settings) -> List[str]:
    configured = [o.strip().rstrip("/") for o in settings.widget_origins.split(",") if o.strip()]
    return configured or [f"http://localhost:{settings.web_port}", f"http://127.0.0.1:{settings.web_port}"]


def _address(limits: Limits, environ: Dict[str, Any]) -> str:
    """The client's address, from the request that opened the socket."""
    request = environ.get("sanic.request")
    return limits.client_address(getattr(request, "ip", "") or "", environ.get("HTTP_X_FORWARDED_FOR"))


def greeting(language: Optional[str]) -> str:
    """What starts a new conversation: the greeting, in the page's language when it is one of ours."""
    if language in LANGUAGES and language != DEFAULT_LANGUAGE:
        return '/greet{"language": "%s"}' % language
    return "/greet"


def bot_messages(events: List[Any], after: float) -> tuple[List[Dict[str, Any]], str]:
    """The bot's messages after ``after`` (a seq), each with the language the conversation was in
    when it was sent; and the conversation's language now."""
    out, language = [], DEFAULT_LANGUAGE
    for event, language in with_language(events):
        if isinstance(event, BotUttered) and event.timestamp > after:
            text, replies = event.text or "", buttons_of(event)
            if text or replies:
                out.append({"seq": event.timestamp, "text": text, "quick_replies": replies, "lang": language,
                            "dir": "rtl" if LANGUAGES[language].rtl else "ltr"})
    return out, language


class WebChatInput(InputChannel):
    """socket.io for the website widget, with server-issued signed sessions."""

    @classmethod
    def name(cls) -> Text:
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(socketio_path=credentials.get("socketio_path", "/socket.io"))

    def __init__(self, socketio_path: Text = "/socket.io",
                 settings: Optional[settings_module.Settings] = None) -> None:
        self.socketio_path = socketio_path
        self.settings = settings or settings_module.load()
        self.secret = secret_key(self.settings)
        self.sockets: Dict[str, _Socket] = {}
        self.seen_ids: "OrderedDict[str, OrderedDict[str, asyncio.Future]]" = OrderedDict()
        self.limits = Limits(self.settings, self.secret)

    def get_output_channel(self):
        return None  # replies are read from the tracker and sent to the bound sockets

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=_origins(self.settings), cookie=None)
        bp = _Blueprint(sio, self.socketio_path, "webchat_webhook", __name__)
        channel = self
        max_age = self.settings.web_session_hours * 3600
        max_chars = self.settings.max_message_chars

        @bp.route("/", methods=["GET"])
        async def health(_):
            return response.json({"status": "ok"})

        async def tracker_events(sender: str) -> List[Any]:
            tracker = await bp.ctx.app.ctx.agent.tracker_store.retrieve_full_tracker(sender)
            return list(tracker.events) if tracker else []

        async def sync(sid: str) -> None:
            """Send this socket every bot message it has not had, in order, once."""
            sock = channel.sockets.get(sid)
            if sock is None:
                return
            async with sock.lock:
                messages, language = bot_messages(await tracker_events(sock.sender), sock.last_sent)
                if language != sock.lang:
                    sock.lang = language
                    await sio.emit("ui", ui_text(language), room=sid)
                for message in messages:
                    await sio.emit("bot_uttered", message, room=sid)
                    sock.last_sent = message["seq"]

        async def handle(sid: str, sender: str, text: str, message_id: Optional[str]) -> None:
            await sio.emit("bot_typing", {"typing": True}, room=sid)
            try:
                await on_new_message(UserMessage(
                    text, CollectingOutputChannel(), sender, input_channel=channel.name(), message_id=message_id,
                ))
            finally:
                await sio.emit("bot_typing", {"typing": False}, room=sid)
            # Every socket of this conversation (a second tab resumed with the same token) catches up.
            for other, sock in list(channel.sockets.items()):
                if sock.sender == sender:
                    await sync(other)

        @sio.on("connect")
        async def connect(sid, environ, auth=None) -> bool:
            return True

        @sio.on("disconnect")
        async def disconnect(sid) -> None:
            channel.sockets.pop(sid, None)

        @sio.on("session_request")
        async def session_request(sid, data=None) -> None:  # (an emit with no data calls it without)
            data = data if isinstance(data, dict) else {}
            if not isinstance(data.get("lang"), str):  # a list or an object names no language (and is not hashable)
                data = {**data, "lang": None}
            sender = verify_web_session(channel.secret, data.get("token"), max_age)
            resumed = sender is not None
            token = data.get("token") if resumed else None
            if not resumed:
                sender, token = issue_web_session(channel.secret)
            last_seen = data.get("last_seen")
            last_seen = float(last_seen) if resumed and isinstance(last_seen, (int, float)) else 0.0
            events = await tracker_events(sender) if resumed else []
            _, language = bot_messages(events, float("inf"))
            if not resumed and data.get("lang") in LANGUAGES:
                language = data["lang"]
            address = _address(channel.limits, sio.get_environ(sid) or {})
            greet = not resumed and (await channel.limits.check("webchat", address=address)).allowed
            channel.sockets[sid] = _Socket(sender=sender, last_sent=last_seen, lang=language, address=address)
            await sio.emit("session_confirm", {"token": token, "resumed": resumed, **ui_text(language)}, room=sid)
            if resumed:
                await sync(sid)
            elif greet:
                await handle(sid, sender, greeting(data.get("lang")), None)

        async def limited(sock: _Socket) -> Optional[Dict[str, Any]]:
            """The ack refusing a message over a rate limit, or None."""
            if (await channel.limits.check("webchat", sock.sender, sock.address)).allowed:
                return None
            return {"ok": False, "reason": "rate_limited", "text": kind_message(sock.lang)}

        @sio.on("user_uttered")
        async def user_uttered(sid, data=None) -> Dict[str, Any]:
            sock = channel.sockets.get(sid)
            if sock is None:
                return {"ok": False, "reason": "no_session"}
            data = data if isinstance(data, dict) else {}
            text = data.get("message")
            if not isinstance(text, str) or not text.strip():
                return {"ok": False, "reason": "empty"}
            if len(text) > max_chars:
                return {"ok": False, "reason": "too_long"}
            client_id = data.get("id")
            client_id = str(client_id)[:100] if isinstance(client_id, (str, int)) and str(client_id) else None
            refused = None if client_id in channel.seen_ids.get(sock.sender, {}) else await limited(sock)
            if refused:  # (a resend of a message taken already is not counted again)
                return refused
            if client_id is None:
                await handle(sid, sock.sender, text, None)
                return {"ok": True}
            seen = channel.seen_ids.setdefault(sock.sender, OrderedDict())
            channel.seen_ids.move_to_end(sock.sender)
            while len(channel.seen_ids) > REMEMBERED_CONVERSATIONS:
                channel.seen_ids.popitem(last=False)
            pending = seen.get(client_id)
            if pending is not None:  # a resend: wait for the first one, then catch this socket up
                await asyncio.shield(pending)
                await sync(sid)
                return {"ok": True}
            done = asyncio.get_running_loop().create_future()
            seen[client_id] = done
            while len(seen) > REMEMBERED_IDS:
                seen.popitem(last=False)
            try:
                await handle(sid, sock.sender, text, f"{sock.sender}:{client_id}")
            finally:
                done.set_result(True)
            return {"ok": True}

        return bp
