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
    from rasa.core.lock_store import InMemoryLockStore, RedisLockStore

    from bot.rasa_ext.stores import EnvLockStore

    monkeypatch.delenv("REDIS_URL", raising=False)
    assert isinstance(EnvLockStore(endpoint_config=None), InMemoryLockStore)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    store = EnvLockStore(endpoint_config=None)
    assert isinstance(store, RedisLockStore)
    assert store.red.ping()
