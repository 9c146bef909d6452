"""Which language a message is written in, inside the Rasa server's pipeline.

Trained with the model: every intent block of data/nlu/<lang>*.yml carries
``metadata: {language: <lang>}`` (English's carry none), and bot.languages.LearnedReader
learns the languages from those examples, as people type them. At run time it joins
lingua in bot.languages.identify, and:

- the message's ``language_identified`` (code, or the name of a language we do not
  support, and confidence) goes into the parse data, for the NLG's notices;
- when the language is sure, a ``language`` entity, which the ``language`` slot's
  from_entity mapping (domain.yml) takes in the same turn: the reply, the 999 advice
  included, is in that language, with no action server involved;
- a message that is only a language's name ("Polski", "urdu") is the ``choose_language``
  intent, whatever the classifier thought; and the language a ``choose_language`` message
  names ("can we speak Polish") is its ``language`` entity, with ``NAMED`` as extractor, so
  that the reply is already in the chosen language.

The reader is kept as plain arrays and JSON (no pickle in the model file). Nothing of the
text is logged.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES, INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.languages import DEFAULT, LearnedReader, identify, mentioned_language, named_language, warm_up

ENTITY = "language"
CHOOSE_INTENT = "choose_language"
PARSE_KEY = "language_identified"
LIKELIHOOD_KEY = "language_likelihood"
NAMED = "LanguageName"  # the extractor of a language the person asked for by name


def example_language(message: Message) -> str:
    metadata = message.get("metadata") or {}
    intent_metadata = metadata.get("intent") or {}
    return str(intent_metadata.get("language") or DEFAULT)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class LanguageIdentifier(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    def __init__(self, model_storage: ModelStorage, resource: Resource, reader: Optional[LearnedReader] = None) -> None:
        self._model_storage = model_storage
        self._resource = resource
        self.reader = reader or LearnedReader(None)

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "LanguageIdentifier":
        return cls(model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(TEXT) and not m.get(TEXT).startswith("/")]
        self.reader = LearnedReader.fit([m.get(TEXT) for m in examples], [example_language(m) for m in examples])
        self.persist()
        return self._resource

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as folder:
            model = self.reader.model
            if model is None:
                return
            vectorizer, classifier = model.steps[0][1], model.steps[1][1]
            vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
            (folder / "reader.json").write_text(json.dumps({
                "classes": [str(c) for c in classifier.classes_], "vocabulary": vocabulary,
            }), encoding="utf-8")
            np.save(folder / "idf.npy", vectorizer.idf_, allow_pickle=False)
            np.save(folder / "coef.npy", classifier.coef_, allow_pickle=False)
            np.save(folder / "intercept.npy", classifier.intercept_, allow_pickle=False)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "LanguageIdentifier":
        try:
            with model_storage.read_from(resource) as folder:
                if not (folder / "reader.json").exists():
                    return cls(model_storage, resource)
                meta = json.loads((folder / "reader.json").read_text(encoding="utf-8"))
                arrays = {name: np.load(folder / f"{name}.npy", allow_pickle=False)
                          for name in ("idf", "coef", "intercept")}
        except ValueError:
            return cls(model_storage, resource)
        warm_up()
        return cls(model_storage, resource, LearnedReader.from_arrays(meta, arrays))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text or text.startswith("/"):
                continue
            learned = self.reader.probabilities(text)
            message.set(LIKELIHOOD_KEY, learned)  # for DangerLexicon; not in the parse data
            found = identify(text, learned)
            message.set(PARSE_KEY, found.as_dict(), add_to_output=True)
            if found.code:
                set_language(message, found.code, "LanguageIdentifier", found.confidence)
            if named_language(text):
                force_intent(message, CHOOSE_INTENT)
            mentioned = mentioned_language(text)
            if mentioned and (message.get(INTENT) or {}).get(INTENT_NAME_KEY) == CHOOSE_INTENT:
                set_language(message, mentioned, NAMED)
        return messages


def force_intent(message: Message, name: str) -> None:
    """The message's intent becomes ``name`` with full confidence, first in the ranking, whatever
    the classifier said (a language's name here; danger now in bot/rasa_ext/danger_nlu.py)."""
    top = {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: 1.0}
    ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != name]
    message.set(INTENT, top, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [top, *ranking], add_to_output=True)


def set_language(message: Message, code: str, extractor: str, confidence: float = 1.0) -> None:
    """The ``language`` entity, once (the slot's mapping takes it in the same turn)."""
    text = message.get(TEXT) or ""
    entities = [e for e in message.get(ENTITIES) or [] if e.get("entity") != ENTITY]
    entities.append({"entity": ENTITY, "value": code, "start": 0, "end": len(text),
                     "confidence_entity": round(float(confidence), 3), "extractor": extractor})
    message.set(ENTITIES, entities, add_to_output=True)


def message_language(message: Message) -> Optional[str]:
    return next((e.get("value") for e in message.get(ENTITIES) or [] if e.get("entity") == ENTITY), None)
