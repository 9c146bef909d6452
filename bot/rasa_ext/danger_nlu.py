"""The danger lexicon inside the Rasa server's language-model pipeline.

Runs last in the pipeline, after the classifier and the fallback (config.yml): when bot.safety.danger recognises danger
now, the message's intent becomes ``danger`` with full confidence, whatever the
classifier thought. So the 999 rule fires (and ``immediate_risk`` is set) on the words
themselves, in the same turn, without the action server. Nothing of the text is logged.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.safety.danger import danger_signs

DANGER_INTENT = "danger"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class DangerLexicon(GraphComponent, IntentClassifier):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    @classmethod
    def create(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext
    ) -> "DangerLexicon":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text or not danger_signs(text):
                continue
            top = {INTENT_NAME_KEY: DANGER_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
            message.set(INTENT, top, add_to_output=True)
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != DANGER_INTENT]
            message.set(INTENT_RANKING_KEY, [top, *ranking], add_to_output=True)
        return messages
