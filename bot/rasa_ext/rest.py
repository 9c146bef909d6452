"""The REST channel (``POST /webhooks/rest/webhook``), with rate limits and a length limit.

Rasa's RestInput hands every message to the dialogue, however many and however long. This is
the same channel (same name, same URL, same answer: a JSON list of the bot's messages) with a
guard in front of its webhook:

* a request that is not a JSON object with a text ``sender`` and a text ``message`` gets 400 and
  says what is wrong (Rasa would run it as the shared conversation "default", or fail with 500);
* over ``RATE_PER_ADDRESS`` (the client's address; X-Forwarded-For only from TRUSTED_PROXIES) or
  ``RATE_PER_SENDER`` per ``RATE_WINDOW_SECONDS`` (bot/ratelimit.py) the message is not taken:
  the answer is ``200`` with the kind message as the bot's message, in the conversation's
  language, and a ``Retry-After`` header. 200 and not 429 on purpose: the widget and Rasa's REST
  clients show a list of messages and treat 429 as a failure, and the person must see the words
  (with the 999 line), not an error;
* a message longer than ``MAX_MESSAGE_CHARS`` is not taken either: 200 with "That message is too
  long to send. Please make it shorter." in the conversation's language, never a model call.

Browsers are not meant to use this channel (anyone may name any sender here; the website widget
uses the socket.io channel, whose sessions are signed), so it sends no CORS headers at all: the
Rasa server is started without ``--cors``.
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request

from bot import settings as settings_module
from bot.channels.tokens import WEB_PREFIX, secret_key
from bot.languages import LANGUAGES
from bot.ratelimit import Limits, kind_message
from bot.i18n import translate
from bot.rasa_ext.said import DEFAULT_LANGUAGE
from bot.web.ui_text import UI_TEXT

logger = logging.getLogger(__name__)

RESERVED_SENDERS = (WEB_PREFIX, "sms-", "whatsapp-")  # the other channels' conversation ids
MAX_SENDER_CHARS = 255  # Rasa's tracker store keeps sender ids in a column of this size
REMEMBERED_LANGUAGES = 10_000  # senders whose language is remembered for a refusal (the latest)


def _bad_request(message: str) -> response.HTTPResponse:
    return response.json({"error": "bad_request", "message": message}, status=400)


class LimitedRestInput(RestInput):
    """Rasa's REST channel behind the rate and length limits (module docstring)."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls()

    def __init__(self, settings: Optional[settings_module.Settings] = None) -> None:
        self.settings = settings or settings_module.load()
        self.limits = Limits(self.settings, secret_key(self.settings))
        self.languages: "OrderedDict[str, tuple[str, float]]" = OrderedDict()  # sender -> (language, until)

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()  # never what the body says: a REST client cannot pass for the widget or a phone

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        bp = super().blueprint(on_new_message)

        @bp.middleware("request")
        async def guard(request: Request) -> Optional[response.HTTPResponse]:
            if request.method == "POST" and request.path.rstrip("/").endswith("/webhook"):
                return await self.guard(request)
            return None

        return bp

    async def guard(self, request: Request) -> Optional[response.HTTPResponse]:
        """An answer instead of the dialogue's, or None to let the message through."""
        try:
            body = request.json
        except Exception:
            return _bad_request("The body must be JSON: {\"sender\": \"...\", \"message\": \"...\"}.")
        if not isinstance(body, dict):
            return _bad_request("The body must be a JSON object: {\"sender\": \"...\", \"message\": \"...\"}.")
        sender, text = body.get("sender"), body.get("message")
        if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
            return _bad_request(f"\"sender\" must be a text of 1 to {MAX_SENDER_CHARS} characters naming the "
                                "conversation.")
        if not isinstance(text, str):
            return _bad_request("\"message\" must be a text.")
        if sender.startswith(RESERVED_SENDERS):  # never a way into a web chat's or a phone's conversation
            return _bad_request("That sender id is reserved: choose another.")
        address = self.limits.client_address(request.ip, request.headers.get("X-Forwarded-For"))
        verdict = await self.limits.check("rest", sender, address)
        if not verdict.allowed:
            language = await self.language(request, sender)
            return self.reply(sender, kind_message(language), {"Retry-After": str(max(1, round(verdict.retry_after)))})
        if len(text) > self.settings.max_message_chars:
            return self.reply(sender, translate(UI_TEXT["too_long"], await self.language(request, sender)))
        return None

    @staticmethod
    def reply(sender: str, text: str, headers: Optional[dict] = None) -> response.HTTPResponse:
        """An answer shaped as the dialogue's own: a list of the bot's messages."""
        return response.json([{"recipient_id": sender, "text": text}], headers=headers)

    async def language(self, request: Request, sender: str) -> str:
        """The conversation's language (its tracker's ``language`` slot), remembered for a window so a
        flood does not read the tracker for every message; English when there is none."""
        language, until = self.languages.get(sender, (DEFAULT_LANGUAGE, 0.0))
        if until > time.monotonic():
            return language
        language = DEFAULT_LANGUAGE
        try:
            tracker = await request.app.ctx.agent.tracker_store.retrieve(sender)
            slot = tracker.get_slot("language") if tracker else None
            language = slot if slot in LANGUAGES else DEFAULT_LANGUAGE
        except Exception as exc:  # the words still go, in English
            logger.warning("the conversation's language could not be read (%s)", type(exc).__name__)
        self.languages[sender] = (language, time.monotonic() + self.limits.window)
        self.languages.move_to_end(sender)
        while len(self.languages) > REMEMBERED_LANGUAGES:
            self.languages.popitem(last=False)
        return language
