"""The `language` slot: a text slot (../shared/CONTRACT.md) that only ever holds one of the ten codes.

It is set in the same turn from the `language` entity (bot/rasa_ext/language_nlu.py, or a
language button's payload). A person can also type a payload by hand ("/greet{"language":
"xx"}"): a value that is not one of the ten is ignored, so outside tools always read a code of
the contract and the conversation goes on in its language.
"""
from __future__ import annotations

from typing import Any

from rasa.shared.core.slots import TextSlot

from bot.languages import LANGUAGES


class LanguageSlot(TextSlot):
    type_name = "bot.rasa_ext.slots.LanguageSlot"

    @property
    def value(self) -> Any:
        return self._value

    @value.setter
    def value(self, value: Any) -> None:
        if value is None or value in LANGUAGES:
            self._value = value
            self._has_been_set = True
