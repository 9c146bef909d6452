"""What the bot said in a conversation, read from its tracker events: for the channels that send
replies themselves (the widget's socket.io channel replays them; the Twilio channel texts them)."""
from __future__ import annotations

from typing import Any, Iterable, Iterator

from rasa.shared.core.events import BotUttered, SlotSet

from bot.languages import LANGUAGES

DEFAULT_LANGUAGE = "en"


def with_language(events: Iterable[Any]) -> Iterator[tuple[Any, str]]:
    """Each event with the conversation's language as it stood then (a language event counts at once)."""
    language = DEFAULT_LANGUAGE
    for event in events:
        if isinstance(event, SlotSet) and event.key == "language" and event.value in LANGUAGES:
            language = event.value
        yield event, language


def language_of(events: Iterable[Any]) -> str:
    """The conversation's language after all of ``events``."""
    language = DEFAULT_LANGUAGE
    for _, language in with_language(events):
        pass
    return language


def buttons_of(event: BotUttered) -> list[dict]:
    """A bot message's buttons (or quick replies) as ``{"title", "payload"}``, each with both."""
    buttons = event.data.get("buttons") or event.data.get("quick_replies") or []
    return [{"title": str(b.get("title") or b.get("payload")), "payload": str(b.get("payload") or b.get("title"))}
            for b in buttons if isinstance(b, dict) and (b.get("payload") or b.get("title"))]
