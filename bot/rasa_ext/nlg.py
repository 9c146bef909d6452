"""Every response rendered in the conversation's language, inside the Rasa server.

Named in endpoints.yml (``nlg: type: bot.rasa_ext.nlg.CatalogNLG``), Rasa 3.6 loads it in
place of its own template generator. It picks the response variation as Rasa would (from
domain.yml, whose text is the English source), translates its text and button titles from
the Babel catalogs (bot/i18n.py) *before* the slots and the action's values are filled in,
and marks Arabic and Urdu right-to-left. It runs in the Rasa server, so the 999 advice is
rendered in the person's language with no other server involved.

The first reply of a turn may also carry a notice about the language (bot/languages.py
decides what the message was written in; this module only words it):

- the conversation has just changed language because the person wrote in another of ours:
  "You're writing in Polish, so I'll carry on in Polish." (in Polish);
- they wrote in a language we do not support: we carry on in English and say an interpreter
  can be booked for the call with an officer;
- the greeting, while the conversation's language is not yet known (a "hi"): the languages
  to choose from, each written in itself.

Never on the 999 advice, which stays exactly as written.
"""
from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any, Dict, Optional, Text

from rasa.core.nlg import interpolator
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.events import BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.i18n import mark_direction, translate
from bot.languages import DEFAULT, supported
from bot.rasa_ext.language_nlu import CHOOSE_INTENT, PARSE_KEY

SLOT = "language"
NO_NOTICE = frozenset({"utter_danger_999", "utter_choose_language", "utter_language_changed"})
_REMEMBERED_TURNS = 10_000


def localise(response: Dict[Text, Any], language: str) -> Dict[Text, Any]:
    """A copy of the response with its text and button titles in the language."""
    out = copy.deepcopy(response)
    if out.get("text"):
        out["text"] = translate(out["text"], language)
    for button in out.get("buttons") or []:
        if button.get("title"):
            button["title"] = translate(button["title"], language)
    return out


def _since_last_user(tracker: DialogueStateTracker) -> tuple[Optional[UserUttered], list]:
    after: list = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return event, list(reversed(after))
        after.append(event)
    return None, list(reversed(after))


def _language_before(tracker: DialogueStateTracker, user: UserUttered) -> str:
    """The conversation's language before this turn."""
    value = DEFAULT
    for event in tracker.events:
        if event is user:
            break
        if isinstance(event, SlotSet) and event.key == SLOT and event.value:
            value = event.value
    return value


class CatalogNLG(TemplatedNaturalLanguageGenerator):
    def __init__(self, endpoint_config: Any = None, domain: Any = None) -> None:
        super().__init__(domain.responses if domain is not None else {})
        self._noticed: "OrderedDict[tuple, None]" = OrderedDict()

    async def generate(self, utter_action: Text, tracker: DialogueStateTracker, output_channel: Text,
                       **kwargs: Any) -> Optional[Dict[Text, Any]]:
        filled = tracker.current_slot_values()
        language = supported(filled.get(SLOT))
        chosen = self._random_response_for(utter_action, output_channel, filled)
        if chosen is None:
            return None
        response = self._fill(localise(chosen, language), filled, kwargs)
        if utter_action not in NO_NOTICE:
            self._add_notice(response, utter_action, tracker, language, output_channel, filled)
        if response.get("text"):
            response["text"] = mark_direction(response["text"], language)
        return response

    def _fill(self, response: dict, filled: dict, values: dict) -> dict:
        """The slots' and the action's values put into the text and the button titles (never into
        a button's payload: Rasa's own filler reads '/choose{"value":"x"}' as a placeholder and logs
        an error, with the start of the slots, for every button)."""
        variables = self._response_variables(filled, values)
        if response.get("text"):
            response["text"] = interpolator.interpolate_text(response["text"], variables)
        for button in response.get("buttons") or []:
            if button.get("title"):
                button["title"] = interpolator.interpolate_text(button["title"], variables)
        return response

    # --- notices about the language, on the first reply of a turn --------------------------

    def _first_of_turn(self, tracker: DialogueStateTracker, user: UserUttered, after: list) -> bool:
        if any(isinstance(e, BotUttered) for e in after):
            return False
        key = (tracker.sender_id, user.timestamp)
        if key in self._noticed:
            return False
        self._noticed[key] = None
        while len(self._noticed) > _REMEMBERED_TURNS:
            self._noticed.popitem(last=False)
        return True

    def _notice(self, name: str, language: str, output_channel: Text, filled: dict, **values: Any) -> Optional[dict]:
        chosen = self._random_response_for(name, output_channel, filled)
        return self._fill(localise(chosen, language), filled, values) if chosen else None

    def _add_notice(self, response: dict, utter_action: str, tracker: DialogueStateTracker, language: str,
                    output_channel: Text, filled: dict) -> None:
        user, after = _since_last_user(tracker)
        if user is None or (user.text or "").startswith("/"):
            return
        identified = (user.parse_data or {}).get(PARSE_KEY) or {}
        before = _language_before(tracker, user)
        said_before = any(isinstance(e, BotUttered) for e in tracker.events if e is not user and e.timestamp < user.timestamp)
        notice = None
        if (user.intent or {}).get("name") != CHOOSE_INTENT and before != language and said_before:
            notice = self._notice("utter_language_switched", language, output_channel, filled)
        elif identified.get("other") and not identified.get("code"):
            notice = self._notice("utter_language_not_supported", language, output_channel, filled,
                                  other_language=identified["other"])
        elif utter_action == "utter_greet" and not any(
            isinstance(e, SlotSet) and e.key == SLOT for e in tracker.events
        ):
            offer = self._notice("utter_language_offer", language, output_channel, filled)
            if offer:  # the buttons of "which language?" (domain.yml), each language written in itself
                offer["buttons"] = copy.deepcopy(self.responses["utter_choose_language"][0]["buttons"])
            notice = offer
            if notice and self._first_of_turn(tracker, user, after):
                response["text"] = f"{response.get('text', '')}\n\n{notice['text']}".strip()
                response["buttons"] = (response.get("buttons") or []) + notice["buttons"]
            return
        if notice and notice.get("text") and self._first_of_turn(tracker, user, after):
            response["text"] = f"{notice['text']}\n\n{response.get('text', '')}".strip()
