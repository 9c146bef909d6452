"""Changing the conversation's language ("Polski", "change language", a language button)."""
from __future__ import annotations

from typing import Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from bot.languages import chosen_language


class ActionChooseLanguage(Action):
    """A language they named or picked is already the conversation's (the `language` slot took it
    in the same turn): say so, in it. Otherwise, offer the languages."""

    def name(self) -> Text:
        return "action_choose_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        entities = (tracker.latest_message or {}).get("entities") or []
        if chosen_language(entities):
            dispatcher.utter_message(response="utter_language_changed")
        else:
            dispatcher.utter_message(response="utter_choose_language")
        return []
