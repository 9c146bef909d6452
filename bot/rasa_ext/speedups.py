"""A fix for a hot spot in Rasa 3.6, applied when the Rasa server loads bot.rasa_ext.

``RemoteAction._validate_action_result`` calls ``jsonschema.validate`` on every action
server response, which checks the *schema itself* against the JSON Schema meta-schema
each time: measured with py-spy under load, that was nearly half of the Rasa server's
CPU. Here the validator is built (and the schema checked) once; every response is
still validated against the same schema and a bad one still raises ValidationError.
"""
from __future__ import annotations

from typing import Any, Dict

import jsonschema
from rasa.core.actions.action import RemoteAction

_validator = None
_original = RemoteAction._validate_action_result


def _validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
    global _validator
    if _validator is None:
        spec = RemoteAction.action_response_format_spec()
        cls = jsonschema.validators.validator_for(spec)
        cls.check_schema(spec)
        _validator = cls(spec)
    error = jsonschema.exceptions.best_match(_validator.iter_errors(result))
    if error is not None:
        return _original(self, result)  # raises with Rasa's own message
    return True


def apply() -> None:
    RemoteAction._validate_action_result = _validate_action_result
