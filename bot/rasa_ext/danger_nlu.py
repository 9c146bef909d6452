"""The danger lexicon inside the Rasa server's language-model pipeline.

Runs last in the pipeline, after the classifier and the fallback (config.yml). Detection
combines the two:

- when bot.safety.danger recognises danger now, the message's intent becomes ``danger``
  with full confidence, whatever the classifier thought, so the 999 advice (and
  ``immediate_risk``) follows the words themselves, in the same turn, without the action
  server;
- when the classifier says ``danger`` but the message reads as a report (told in the past,
  a habit, a what-if or a question, online, or with them safe now), its ``danger`` is
  overruled by its next guess: a language model hears "knife" or "fire" and says danger,
  and a false alarm also pages the on-call officer;
- otherwise the classifier's ``danger`` stands when it is confident (``classifier_threshold``,
  0.8 by default) and the message says it is happening now ("now", "tonight", "still here",
  "again"...): wording the lexicon does not know. Measured on tests/data/danger_en.yml, the
  classifier alone says "danger" with full confidence to one report in twelve that mentions a
  knife, a fire or an attack in the past; the lexicon is the first net, the classifier a second.

Every language is read on every message (bot/safety/lexicons.py for the nine beside English),
whatever language the conversation is in. When another language's phrases match and the
message's language was not otherwise sure, that language becomes the message's ``language``
entity: the 999 advice is given in the language the danger was told in.

Nothing of the text is logged.
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

from bot.rasa_ext.language_nlu import LIKELIHOOD_KEY, force_intent, message_language, set_language
from bot.safety import lexicons
from bot.safety.lexicons import reads_as_report_in_any_language as reads_as_report
from bot.safety.lexicons import says_now_in_any_language as says_now
from bot.safety.lexicons import signs_in_any_language as danger_signs

DANGER_INTENT = "danger"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class DangerLexicon(GraphComponent, IntentClassifier):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # Measured on tests/data/danger_en.yml (make bench): the language model is sure of most
        # real danger it catches, and its doubtful "danger"s are mostly false alarms.
        # fallback_threshold: FallbackClassifier's in config.yml, for an overruled message's next guess
        return {"classifier_threshold": 0.8, "fallback_threshold": 0.4}

    def __init__(self, classifier_threshold: float = 0.8, fallback_threshold: float = 0.4) -> None:
        self.classifier_threshold = classifier_threshold
        self.fallback_threshold = fallback_threshold

    @classmethod
    def create(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext
    ) -> "DangerLexicon":
        return cls(float(config.get("classifier_threshold", 0.8)), float(config.get("fallback_threshold", 0.4)))

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != DANGER_INTENT]
            signs = danger_signs(text)
            if signs:
                spoken = lexicons.language_of(signs, message.get(LIKELIHOOD_KEY))
                if spoken and message_language(message) is None:
                    set_language(message, spoken, "DangerLexicon")
                force_intent(message, DANGER_INTENT)
            elif self._overruled(message.get(INTENT) or {}, text) and ranking:
                nxt = dict(ranking[0])
                if float(nxt.get(PREDICTED_CONFIDENCE_KEY) or 0.0) < self.fallback_threshold:
                    # the next guess is too doubtful to act on: the fallback, as the pipeline would have made it
                    nxt = {INTENT_NAME_KEY: "nlu_fallback", PREDICTED_CONFIDENCE_KEY: self.fallback_threshold}
                message.set(INTENT, nxt, add_to_output=True)
                message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

    def _overruled(self, intent: Dict[Text, Any], text: Text) -> bool:
        """The classifier alone says danger, but doubtfully, or not of now, or the message reads as a report."""
        if intent.get(INTENT_NAME_KEY) != DANGER_INTENT:
            return False
        if float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0) < self.classifier_threshold:
            return True
        return reads_as_report(text) or not says_now(text)
