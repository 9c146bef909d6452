"""SMS and WhatsApp through Twilio: ``POST /webhooks/twilio/webhook`` (../shared/CONTRACT.md).

Rasa's own Twilio connector checks no signature, sends while the webhook waits, drops buttons
and media, and serves one number. This one:

* answers 403 to any request whose X-Twilio-Signature does not verify against the public URL
  (``TWILIO_WEBHOOK_URL``) and the auth token (twilio's RequestValidator);
* stores the text (bot/channels/phone.py; a retried MessageSid is stored once) and answers
  Twilio at once with an empty TwiML response;
* then, in the background and one text at a time per number, in the order they came: runs the
  dialogue, and puts the reply in the outbox, from the number the person wrote to. Texts stored
  but not handled (the server stopped) are handled when it starts again; a text the dialogue
  had already taken (the server stopped between the two) is not given to it twice: its reply is
  read from the conversation.

A conversation is named by a keyed hash of the number (bot/channels/tokens.py), never the number.

Rate limit (bot/ratelimit.py, RATE_PER_SENDER per number): a text is never dropped or refused. Every
one is stored and goes into the conversation as usual (so officers have it, and the danger check
reads it); a text over the limit only has its reply held back, and the first such text in a window
is answered with the kind message instead (texts arrive this fast only from a script or a loop, and
every reply costs a text). Counted when the text arrives (a backlog handled after a restart is
not a flood); the service words (STOP, HELP, EXIT...) are never counted nor held back. Twilio's own
address is not limited.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text
from urllib.parse import parse_qsl

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, SlotSet, UserUttered
from sanic import Blueprint, response

from bot import settings as settings_module
from bot.channels import phone, sms
from bot.channels.tokens import phone_sender_id, secret_key
from bot.db import session_factory
from bot.rasa_ext import said
from bot.rasa_ext.locks import Claims
from bot.ratelimit import Limits

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
CLAIM_TRIES = 600  # times a kicked server looks whether another has taken, or left, the number's texts
CLAIM_RETRY_SECONDS = 0.2
SWEEP_SECONDS = 30.0  # how often texts left unhandled (an error) are looked for again
SERVICE_WORDS = sms.OPT_OUT_WORDS | sms.OPT_IN_WORDS | sms.HELP_WORDS | sms.EXIT_WORDS  # never limited


def _in_thread(func, *args):
    return asyncio.get_running_loop().run_in_executor(None, func, *args)


def replies_to(events: List[Any], message_id: str) -> tuple[Optional[List[phone.BotMessage]], str]:
    """The bot's messages that answered the user message ``message_id`` (None if the dialogue has
    not had it), and the conversation's language after it."""
    found, language = None, said.DEFAULT_LANGUAGE
    for event, language in said.with_language(events):
        if isinstance(event, UserUttered):
            if found is not None:
                break
            if event.message_id == message_id:
                found = []
        elif isinstance(event, BotUttered) and found is not None:
            buttons = tuple(said.buttons_of(event))
            if (event.text or "").strip() or buttons:
                found.append(phone.BotMessage(event.text or "", buttons))
    return found, language


class TwilioChannel(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "twilio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls()

    def __init__(self, settings: Optional[settings_module.Settings] = None) -> None:
        self.settings = settings or settings_module.load()
        self.secret = secret_key(self.settings)
        self.factory = session_factory(self.settings.database_url)
        self.running: Dict[str, asyncio.Task] = {}
        self.again: Dict[str, bool] = {}
        self.sender = None  # an outbox worker of our own, to send replies at once (see send_now)
        self.claims = Claims.from_url(self.settings.redis_url) if self.settings.redis_url else None
        self.limits = Limits(self.settings, self.secret)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        from twilio.request_validator import RequestValidator

        bp = Blueprint("twilio_webhook", __name__)
        channel = self
        settings = self.settings
        validator = RequestValidator(settings.twilio_auth_token) if settings.twilio_auth_token else None
        state: Dict[str, Any] = {}  # the sweeper task, to stop it with the server

        @bp.route("/", methods=["GET"])
        async def health(_):
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request):
            # Parsed here, blank values kept: Sanic drops them (an empty Body), and the signature covers them.
            form = dict(parse_qsl((request.body or b"").decode("utf-8", "replace"), keep_blank_values=True))
            url = settings.twilio_webhook_url or request.url
            signature = request.headers.get("X-Twilio-Signature", "")
            if validator is None or not signature or not validator.validate(url, form, signature):
                logger.warning("Twilio webhook refused: the signature does not verify")
                return response.text("forbidden", status=403)
            inbound = phone.parse(form)
            if inbound is None:  # a status callback or something else that is not a message
                return response.text(EMPTY_TWIML, content_type="text/xml")
            conversation_id = phone_sender_id(channel.secret, inbound.channel, inbound.number)
            try:
                stored = await _in_thread(phone.record, channel.factory, inbound, conversation_id)
            except Exception as exc:  # the database is down: Twilio retries, or uses its fallback URL
                logger.error("a text could not be stored (%s); Twilio is asked to try again", type(exc).__name__)
                return response.text("try again", status=503)
            if stored:
                await channel.count(inbound, conversation_id)
                channel.kick(conversation_id, on_new_message, request.app)
            else:
                logger.info("Twilio retried message %s: already stored, not handled again", inbound.message_sid[-6:])
            return response.text(EMPTY_TWIML, content_type="text/xml")

        @bp.listener("after_server_start")
        async def resume(app, _loop):
            state["sweeper"] = asyncio.get_running_loop().create_task(channel.sweep(on_new_message, app))

        @bp.listener("before_server_stop")
        async def stop(app, _loop):
            sweeper = state.get("sweeper")
            if sweeper:
                sweeper.cancel()

        return bp

    # -- the rate limit: replies held back, never texts ----------------------------------------

    async def count(self, inbound: phone.Inbound, conversation_id: str) -> None:
        """Count a stored text against its number's limit; over it, note (for whichever server handles
        the text) that its reply is held back: "notice" for the first in a window, else "silent"."""
        if sms.keyword(inbound.body) in SERVICE_WORDS:
            return
        verdict = await self.limits.check(inbound.channel, conversation_id)
        if not verdict.allowed:
            await self.limits.mark("quiet:" + inbound.message_sid, "notice" if verdict.first_refusal else "silent")

    # -- handling, one text at a time per conversation ----------------------------------------

    async def sweep(self, on_new_message, app) -> None:
        """Texts stored but not handled (a restart, an error) are handled: at start, then now and then."""
        while True:
            try:
                for conversation_id in await _in_thread(phone.waiting, self.factory):
                    self.kick(conversation_id, on_new_message, app)
            except Exception as exc:
                logger.error("looking for unhandled texts failed (%s)", type(exc).__name__)
            await asyncio.sleep(SWEEP_SECONDS)

    def kick(self, conversation_id: str, on_new_message, app) -> None:
        self.again[conversation_id] = True
        if conversation_id not in self.running:
            self.running[conversation_id] = asyncio.get_running_loop().create_task(
                self.drain(conversation_id, on_new_message, app))

    async def drain(self, conversation_id: str, on_new_message, app) -> None:
        """Handle the number's waiting texts, oldest first. With several Rasa servers (REDIS_URL), only
        the one holding the number's claim does; another that was kicked waits until it can take the
        claim or nothing waits any more (the holder handles every text it finds, wherever it came in)."""
        try:
            for _ in range(CLAIM_TRIES):
                token = await _in_thread(self.claim, conversation_id)
                if token is not None:
                    try:
                        if not await self.drain_claimed(conversation_id, on_new_message, app, token):
                            break
                    finally:
                        await _in_thread(self.unclaim, conversation_id, token)
                else:
                    await asyncio.sleep(CLAIM_RETRY_SECONDS)
                if await _in_thread(phone.next_waiting, self.factory, conversation_id) is None:
                    break  # (a text that came in as the claim was let go is taken on the next round)
        finally:
            self.running.pop(conversation_id, None)
            self.again.pop(conversation_id, None)

    async def drain_claimed(self, conversation_id: str, on_new_message, app, token: str) -> bool:
        """Handle texts until none waits (True), or one fails (False: the sweep tries again later)."""
        while True:
            self.again[conversation_id] = False
            inbound_id = await _in_thread(phone.next_waiting, self.factory, conversation_id)
            if inbound_id is None:
                if self.again.get(conversation_id):
                    continue
                return True
            try:
                await self.handle(conversation_id, inbound_id, on_new_message, app)
            except Exception as exc:  # left for the sweep to try again
                logger.error("a text could not be handled (%s); it will be tried again", type(exc).__name__)
                return False
            await _in_thread(self.renew, conversation_id, token)

    def claim(self, conversation_id: str) -> Optional[str]:
        return self.claims.take("sms:" + conversation_id) if self.claims else "this-process"

    def renew(self, conversation_id: str, token: str) -> None:
        if self.claims:
            self.claims.renew("sms:" + conversation_id, token)

    def unclaim(self, conversation_id: str, token: str) -> None:
        if self.claims:
            self.claims.release("sms:" + conversation_id, token)

    async def events(self, app, conversation_id: str) -> List[Any]:
        tracker = await app.ctx.agent.tracker_store.retrieve_full_tracker(conversation_id)
        return list(tracker.events) if tracker else []

    async def handle(self, conversation_id: str, inbound_id: int, on_new_message, app) -> None:
        p = await _in_thread(phone.plan, self.factory, inbound_id)
        quiet = await self.limits.take("quiet:" + p.message_sid)
        replies: List[phone.BotMessage] = []
        if p.kind == "exit":
            await self.forget(conversation_id, on_new_message, app)
        elif p.kind == "keep_media":
            kept = await _in_thread(self.keep_media, conversation_id, p.media)
            p.notes.append(sms.MEDIA_KEPT if kept else sms.MEDIA_FAILED)
        elif p.kind == "delete_media":
            for item in p.media or []:
                await _in_thread(phone.delete_media, item["url"], self.settings)
        elif p.kind == "message" and p.text:
            events = await self.events(app, conversation_id)
            found, _ = replies_to(events, p.message_sid)
            if found is None:
                await on_new_message(UserMessage(p.text, CollectingOutputChannel(), conversation_id,
                                                 input_channel=p.channel, message_id=p.message_sid))
        events = await self.events(app, conversation_id)
        if p.kind == "message" and p.text:
            found, language = replies_to(events, p.message_sid)
            replies = found or []
        else:
            language = p.language or said.language_of(events)
        if quiet and p.kind == "message" and not p.ask_media and not p.notes:  # over the rate limit
            await _in_thread(phone.finish_quietly, self.factory, self.settings, inbound_id, quiet == "notice", language)
        else:
            await _in_thread(phone.finish, self.factory, self.settings, inbound_id, p, replies, language)
        self.send_now()

    def send_now(self) -> None:
        """The reply is in the outbox: send it now rather than at the worker's next poll. This is one
        more outbox worker (claims are leased, so several never send a message twice); the worker
        process still sends whatever this does not, with its retries."""
        from bot.outbox import Worker, build_transports

        if self.sender is None:  # texts only: notifications to staff are the worker process's
            phones = {k: v for k, v in build_transports(self.settings).items() if k in ("sms", "whatsapp")}
            self.sender = Worker(self.factory, self.settings, transports=phones, report_unconfigured=False)
        if not {"sms", "whatsapp"} & set(self.sender.ready):
            return

        def run() -> None:
            try:
                self.sender.run_once()
            except Exception as exc:  # the worker process will send it
                logger.warning("sending a reply at once failed (%s); the outbox worker will", type(exc).__name__)

        asyncio.get_running_loop().run_in_executor(None, run)

    def keep_media(self, conversation_id: str, items: List[dict]) -> bool:
        files = []
        for item in items:
            try:
                files.append(phone.fetch_media(item["url"], self.settings))
            except Exception as exc:
                logger.warning("a photo or file could not be fetched from Twilio (%s)", type(exc).__name__)
                return False
        phone.keep_evidence(self.factory, conversation_id, files)
        for item in items:
            phone.delete_media(item["url"], self.settings)
        return True

    async def forget(self, conversation_id: str, on_new_message, app) -> None:
        """EXIT: a conversation whose report was not sent is deleted; one whose report was sent
        starts again (the sent report and its conversation stay with the case)."""
        events = await self.events(app, conversation_id)
        has_case = any(isinstance(e, SlotSet) and e.key == "case_reference" and e.value for e in events)
        if has_case:
            await on_new_message(UserMessage("/restart", CollectingOutputChannel(), conversation_id,
                                             input_channel="twilio"))
        else:
            agent = app.ctx.agent
            store = getattr(agent.tracker_store, "_tracker_store", agent.tracker_store)
            async with agent.lock_store.lock(conversation_id):
                with store.session_scope() as session:
                    session.query(store.SQLEvent).filter(store.SQLEvent.sender_id == conversation_id).delete(
                        synchronize_session=False)
                    session.commit()
        await _in_thread(phone.forget_unsent, self.factory, conversation_id)
        logger.info("a phone conversation ended by EXIT (its unsent report %s)",
                    "was kept with its case" if has_case else "was deleted")
