"""What people send, made safe for the Rasa server to handle and kept out of its log.

Applied when the Rasa server loads the NLG (bot/rasa_ext/nlg.py, named in endpoints.yml: the
server only, never training), for every channel at once:

* a message's metadata is a mapping or nothing (the REST channel took any JSON: a string failed
  inside the dialogue, with a 200 and no reply);
* a message's text and sender id are made valid text: a lone surrogate ("\\ud800", which the JSON
  of the REST and web chat channels can carry) becomes U+FFFD, and NUL goes. Neither can be
  encoded as UTF-8: lingua (bot/languages.py) raised on such a message, so it got no reply and
  the error went to the log with the text, and no database stores them (PostgreSQL takes no NUL
  in text);
* Rasa's reader of typed payloads warns with the whole message when a message starts with "/"
  but is not a payload of this domain ("/ he lives at number 4", '/inform{"a": 1}'): those
  warnings are not shown, so what people write stays out of the log (tests/test_fuzz.py).
"""
from __future__ import annotations

import logging
import re
import warnings
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
# Rasa's own words, before the message it quotes (rasa/shared/core/training_data/story_reader/yaml_story_reader.py).
PAYLOAD_WARNING = "Failed to parse arguments in line"
PAYLOAD_LOGGER = "rasa.shared.core.training_data.story_reader.yaml_story_reader"  # logs "message.parsing.failed"

_applied = False


def clean(text: str) -> str:
    """The text with lone surrogates replaced (U+FFFD) and NUL removed; anything else as it was."""
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return text.replace("\x00", "") if "\x00" in text else text


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    from rasa.core.channels.channel import UserMessage

    original = UserMessage.__init__

    def __init__(self: UserMessage, text: Any = None, *args: Any, **kwargs: Any) -> None:
        original(self, clean(text) if isinstance(text, str) else text, *args, **kwargs)
        if isinstance(self.sender_id, str):
            self.sender_id = clean(self.sender_id)
        if not isinstance(self.metadata, (dict, type(None))):  # Rasa takes it as a mapping
            self.metadata = None

    UserMessage.__init__ = __init__
    warnings.filterwarnings("ignore", message=PAYLOAD_WARNING, category=UserWarning)
    logging.getLogger(PAYLOAD_LOGGER).setLevel(logging.ERROR)
