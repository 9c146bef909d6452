"""The adapters the Rasa server loads from endpoints.yml."""
import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

import bot.rasa_ext.stores  # noqa: F401  (applies the speedups, as the Rasa server does)
from bot.rasa_ext import speedups


def test_action_responses_are_still_validated_after_the_speedup():
    assert RemoteAction._validate_action_result is speedups._validate_action_result
    action = RemoteAction("action_x", None)
    assert action._validate_action_result({"events": [{"event": "slot", "name": "a", "value": 1}], "responses": []})
    with pytest.raises(jsonschema.ValidationError):
        action._validate_action_result({"events": "not a list"})


def test_lock_store_is_redis_only_when_configured(monkeypatch):
    from rasa.core.lock_store import InMemoryLockStore

    from bot.rasa_ext.locks import AtomicRedisLockStore
    from bot.rasa_ext.stores import EnvLockStore

    monkeypatch.delenv("REDIS_URL", raising=False)
    assert isinstance(EnvLockStore(endpoint_config=None), InMemoryLockStore)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    store = EnvLockStore(endpoint_config=None)
    assert isinstance(store, AtomicRedisLockStore)
    assert store.red.ping()


# --- the language and danger components of the pipeline ---------------------------------------

from rasa.shared.nlu.training_data.message import Message  # noqa: E402

from bot.languages import LearnedReader  # noqa: E402
from bot.rasa_ext.danger_nlu import DangerLexicon  # noqa: E402
from bot.rasa_ext.language_nlu import LanguageIdentifier, example_language  # noqa: E402


def _identifier() -> LanguageIdentifier:
    texts = ["hello i need help", "my neighbour shouts at me", "they wrote graffiti on my door",
             "mujhe madad chahiye", "woh mere darwaze pe khara hai", "mera padosi mujhe gaali deta hai",
             "moj sasiad mnie obraza", "potrzebuje pomocy", "napisali cos na moich drzwiach"]
    return LanguageIdentifier(None, None, LearnedReader.fit(texts, ["en"] * 3 + ["ur"] * 3 + ["pl"] * 3))


def _message(text: str, intent: str = "report_harassment", confidence: float = 0.9) -> Message:
    return Message(data={"text": text, "intent": {"name": intent, "confidence": confidence},
                         "intent_ranking": [{"name": intent, "confidence": confidence}]})


def _language(message: Message):
    return next((e["value"] for e in message.get("entities") or [] if e["entity"] == "language"), None)


def test_a_sure_language_becomes_the_language_entity():
    message = _message("Mój sąsiad ciągle mnie obraża na klatce schodowej")
    _identifier().process([message])
    assert _language(message) == "pl"
    assert message.get("language_identified")["code"] == "pl"


def test_two_words_give_no_language_entity():
    message = _message("hi there", "greet")
    _identifier().process([message])
    assert _language(message) is None


def test_a_language_s_name_alone_is_a_choice_of_language():
    message = _message("Polski", "greet", 0.6)
    _identifier().process([message])
    assert message.get("intent")["name"] == "choose_language" and _language(message) == "pl"
    asked = _message("can we speak urdu please", "choose_language")
    _identifier().process([asked])
    assert _language(asked) == "ur"
    assert [e["extractor"] for e in asked.get("entities")] == ["LanguageName"]


def test_training_examples_carry_their_file_s_language():
    assert example_language(Message(data={"text": "hej", "metadata": {"intent": {"language": "pl"}}})) == "pl"
    assert example_language(Message(data={"text": "hello"})) == "en"


def test_danger_in_another_language_sets_the_language_of_the_999_reply():
    message = _message("on jest pod moimi drzwiami z nożem", "inform", 0.5)
    DangerLexicon().process([message])
    assert message.get("intent")["name"] == "danger"
    assert _language(message) == "pl"
