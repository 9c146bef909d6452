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
from dataclasses import dataclass
from typing import Any, Dict, Optional, Text

from rasa.core.nlg import interpolator
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.events import BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.i18n import mark_direction, translate
from bot.languages import DEFAULT, supported
from bot.rasa_ext import hygiene
from bot.rasa_ext.language_nlu import CHOOSE_INTENT, PARSE_KEY

hygiene.apply()  # the Rasa server loads this module (endpoints.yml): what people send, made safe (hygiene.py)

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


@dataclass(frozen=True)
class _Turn:
    user: UserUttered  # the message this turn answers
    bot_replied: bool  # a reply to it has already gone out
    language_before: str  # the conversation's language before it
    said_before: bool  # the bot had said anything before it
    language_known: bool  # a language has ever been set (before it or in this turn)


def _this_turn(tracker: DialogueStateTracker) -> Optional[_Turn]:
    """What the notices need to know about the turn, from one pass over the conversation."""
    events = list(tracker.events)
    last = next((i for i in range(len(events) - 1, -1, -1) if isinstance(events[i], UserUttered)), None)
    if last is None:
        return None
    language, said, known = DEFAULT, False, False
    for event in events[:last]:
        said = said or isinstance(event, BotUttered)
        if isinstance(event, SlotSet) and event.key == SLOT:
            known = True
            language = event.value or language
    after = events[last + 1:]
    known = known or any(isinstance(e, SlotSet) and e.key == SLOT for e in after)
    return _Turn(events[last], any(isinstance(e, BotUttered) for e in after), language, said, known)


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

    def _first_of_turn(self, tracker: DialogueStateTracker, turn: _Turn) -> bool:
        if turn.bot_replied:
            return False
        key = (tracker.sender_id, turn.user.timestamp)
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
        turn = _this_turn(tracker)
        if turn is None:
            return
        if (turn.user.text or "").startswith("/"):  # a button or a channel's own greeting ("/greet")
            if utter_action != "utter_greet" or turn.language_known:
                return
        identified = (turn.user.parse_data or {}).get(PARSE_KEY) or {}
        values: dict = {}
        offer = False  # the languages to choose from, after the greeting; else a line before the reply
        if (turn.user.intent or {}).get("name") != CHOOSE_INTENT and turn.language_before != language \
                and turn.said_before:
            name = "utter_language_switched"
        elif identified.get("other") and not identified.get("code"):
            name, values = "utter_language_not_supported", {"other_language": identified["other"]}
        elif utter_action == "utter_greet" and not turn.language_known:
            name, offer = "utter_language_offer", True
        else:
            return
        notice = self._notice(name, language, output_channel, filled, **values)
        if not notice or not notice.get("text") or not self._first_of_turn(tracker, turn):
            return
        if offer:  # with the buttons of "which language?" (domain.yml), each language written in itself
            response["text"] = f"{response.get('text', '')}\n\n{notice['text']}".strip()
            response["buttons"] = (response.get("buttons") or []) + copy.deepcopy(
                self.responses["utter_choose_language"][0]["buttons"])
        else:
            response["text"] = f"{notice['text']}\n\n{response.get('text', '')}".strip()
