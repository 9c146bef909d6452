"""A report is never lost because the action server or the database is down when it is sent.

Rasa runs a custom action by calling the action server; when that call fails (the server is down,
killed, or answers an error because the case database is down), Rasa logs it and goes on as if the
action had done nothing: the person would be left with no answer, and the report not sent.

This module wraps that call for ``action_submit_report`` only:

- on failure the Rasa server answers by itself, in the person's language: their report is safe and
  will be sent by itself in a few minutes, nothing to do, and 999 if they are in danger now; and the
  conversation goes into a journal of reports waiting to be sent (Redis when REDIS_URL is set, so
  any Rasa server can send it and a restart keeps it; else this process's memory);
- a task in every Rasa server (started by the ``SubmitRetry`` channel in credentials.yml) takes the
  waiting conversations one at a time, every few seconds, each under a lease in Redis (so no two
  servers send one at once, and one that dies leaves it waiting), and runs the action again under the
  conversation's lock, then whatever the dialogue does next (the reference, the safety check), as
  if the person had just sent it. The case is made once: the action is idempotent on the report id
  it was given when the report began. A try that fails again leaves it waiting, quietly.

Every answer is in the conversation (the tracker store) all along; only the case is late.
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any, Awaitable, Callable, List, Optional, Text

from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, Event
from sanic import Blueprint, response

from bot import settings as settings_module
from bot.i18n import N_, mark_direction, translate
from bot.languages import supported

logger = logging.getLogger(__name__)

ACTION = "action_submit_report"
RETRY_SECONDS = 5.0
QUEUED = N_("Your report is safe. We could not send it to the housing team just now, so it will be sent by "
            "itself in a few minutes, with everything you told me. You don't need to do anything. If you are "
            "in danger now, call 999.")
QUEUED_MARK = "submit-queued"  # the bot message's metadata says so (it is no domain response: no action server)

_retrying = contextvars.ContextVar("retrying", default=False)
_original_run = RemoteAction.run


class Journal:
    """The conversations whose report waits to be sent: a Redis set shared by every Rasa server, or a set
    in this process when there is no Redis."""

    def __init__(self, redis_url: str = "", tracker_url: str = "") -> None:
        import hashlib

        # One set per deployment (its conversations' store): deployments sharing a Redis never take each other's.
        self.key = "hcbot:submit:waiting:" + hashlib.sha256(tracker_url.encode()).hexdigest()[:16]
        self.red = None
        self.local: set[str] = set()
        if redis_url:
            import redis

            self.red = redis.Redis.from_url(redis_url, socket_timeout=5)

    def add(self, conversation_id: str) -> None:
        if self.red is not None:
            self.red.sadd(self.key, conversation_id)
        else:
            self.local.add(conversation_id)

    def discard(self, conversation_id: str) -> None:
        if self.red is not None:
            self.red.srem(self.key, conversation_id)
        else:
            self.local.discard(conversation_id)

    def waiting(self) -> list[str]:
        if self.red is not None:
            return [m.decode() if isinstance(m, bytes) else m for m in self.red.smembers(self.key)]
        return list(self.local)

    def claim(self, conversation_id: str) -> Optional[str]:
        """A lease on sending this one (so no two servers send it at once); it ends by itself if the
        server dies, and the conversation stays in the journal until it is sent."""
        if self.red is None:
            return "this-process"
        import secrets

        token = secrets.token_hex(8)
        return token if self.red.set(f"{self.key}:claim:{conversation_id}", token, nx=True, ex=120) else None

    def release(self, conversation_id: str, token: str) -> None:
        if self.red is not None and self.red.get(f"{self.key}:claim:{conversation_id}") == token.encode():
            self.red.delete(f"{self.key}:claim:{conversation_id}")

    def __contains__(self, conversation_id: str) -> bool:
        if self.red is not None:
            return bool(self.red.sismember(self.key, conversation_id))
        return conversation_id in self.local


_journal: Optional[Journal] = None


def journal() -> Journal:
    global _journal
    if _journal is None:
        settings = settings_module.load()
        _journal = Journal(settings.redis_url, settings.tracker_database_url)
    return _journal


def queued_message(language: Optional[str]) -> BotUttered:
    lang = supported(language)
    return BotUttered(mark_direction(translate(QUEUED, lang), lang), data={},
                      metadata={"said_by": QUEUED_MARK})


async def _guarded_run(self: RemoteAction, output_channel, nlg, tracker, domain) -> List[Event]:
    if self.name() != ACTION:
        return await _original_run(self, output_channel, nlg, tracker, domain)
    try:
        events = await _original_run(self, output_channel, nlg, tracker, domain)
    except Exception as exc:
        if _retrying.get():
            raise  # still down: it stays in the journal (see retry_waiting)
        logger.error("a report could not be sent (%s); it waits and will be sent by itself", type(exc).__name__)
        await asyncio.to_thread(journal().add, tracker.sender_id)
        return [queued_message(tracker.get_slot("language"))]
    await asyncio.to_thread(journal().discard, tracker.sender_id)
    return events


def apply() -> None:
    RemoteAction.run = _guarded_run


async def retry_one(agent, conversation_id: str) -> bool:
    """Send one waiting report: the action again, under the conversation's lock, then the dialogue's
    next steps. True when it went (or there was nothing left to send)."""
    processor = agent.processor
    from rasa.core.policies.policy import PolicyPrediction

    token = _retrying.set(True)
    try:
        async with agent.lock_store.lock(conversation_id):
            tracker = await processor.fetch_tracker_and_update_session(conversation_id, CollectingOutputChannel())
            if tracker.get_slot("report_status") != "in_progress":
                return True  # sent meanwhile (they pressed send again), or stopped
            channel = CollectingOutputChannel()
            prediction = PolicyPrediction.for_action_name(agent.domain, ACTION, "SubmitRetry", 1.0)
            action = processor._get_action(ACTION)
            events = await action.run(channel, agent.nlg, tracker, agent.domain)  # raises while still down
            processor._log_action_on_tracker(tracker, action, events, prediction)
            await processor.execute_side_effects(events, tracker, channel)
            await processor._run_prediction_loop(channel, tracker)  # what follows: the safety check, as usual
            await processor.save_tracker(tracker)
            return True
    finally:
        _retrying.reset(token)


async def retry_waiting(agent, pause: float = RETRY_SECONDS) -> None:
    """For ever: every waiting report, one at a time; those that fail again wait for the next round. A report
    leaves the journal only once it is sent."""
    while True:
        try:
            for conversation_id in await asyncio.to_thread(journal().waiting):
                token = await asyncio.to_thread(journal().claim, conversation_id)
                if token is None:
                    continue  # another server is sending it
                try:
                    if await retry_one(agent, conversation_id):
                        await asyncio.to_thread(journal().discard, conversation_id)
                except Exception as exc:
                    logger.info("a waiting report is still not sent (%s); tried again soon", type(exc).__name__)
                finally:
                    await asyncio.to_thread(journal().release, conversation_id, token)
        except Exception as exc:  # the journal itself (Redis) is away: try later
            logger.error("the journal of waiting reports could not be read (%s)", type(exc).__name__)
        await asyncio.sleep(pause)


class SubmitRetry(InputChannel):
    """Not a channel people write to: it runs ``retry_waiting`` beside the Rasa server (credentials.yml),
    and answers GET /webhooks/submit_retry/ with how many reports wait."""

    @classmethod
    def name(cls) -> Text:
        return "submit_retry"

    @classmethod
    def from_credentials(cls, credentials: Any) -> InputChannel:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("submit_retry", __name__)
        state: dict = {}

        @bp.route("/", methods=["GET"])
        async def health(_):
            waiting = await asyncio.to_thread(lambda: journal().red.scard(journal().key) if journal().red is not None
                                              else len(journal().local))
            return response.json({"waiting": waiting})

        @bp.listener("after_server_start")
        async def start(app, _loop):
            state["task"] = asyncio.get_running_loop().create_task(retry_waiting(app.ctx.agent))

        @bp.listener("before_server_stop")
        async def stop(_app, _loop):
            if state.get("task"):
                state["task"].cancel()

        return bp


apply()  # the Rasa server imports this module (credentials.yml) before it runs any action
