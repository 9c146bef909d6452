"""Danger first: the 999 advice before anything else in the turn, even mid-form.

While a form is active, Rasa lets the form answer first and rules only after the form
has stepped aside, which needs the action server. This policy answers a ``danger``
message with ``utter_danger_999`` straight away (a domain response: no action server,
no database), pauses any form with Rasa's own ``action_deactivate_loop``, then runs
``action_flag_danger`` (the case is flagged, the on-call officer
alerted, any form paused), then listens for whether they are safe. If the action server
is down the flag fails, but the advice has been given and the bot still listens.

It outranks the rule policy (priority 7 against 6), and its predictions are marked,
like a form's own, as not depending on the user's text policies, so the ensemble
weighs the two against each other. The same steps are written as a rule in
data/rules/general.yml, for the stories and for anyone reading the dialogue.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_DEACTIVATE_LOOP_NAME, ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

DANGER_INTENT = "danger"
DANGER_RESPONSE = "utter_danger_999"
FLAG_ACTION = "action_flag_danger"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT], is_trainable=True)
class DangerFirstPolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": 7}

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource  # nothing to learn: the rule is fixed

    def predict_action_probabilities(
        self, tracker: DialogueStateTracker, domain: Domain, rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        intent = (tracker.latest_message.intent or {}).get("name") if tracker.latest_message else None
        # In a form, it is paused first by Rasa's own action (no action server needed), so that
        # if the flag fails the next reply ("I'm safe") is not read as the form's answer.
        after_advice = ACTION_DEACTIVATE_LOOP_NAME if tracker.active_loop_name else FLAG_ACTION
        following = {DANGER_RESPONSE: after_advice, ACTION_DEACTIVATE_LOOP_NAME: FLAG_ACTION, FLAG_ACTION: ACTION_LISTEN_NAME}
        latest = tracker.latest_action_name
        if latest == ACTION_LISTEN_NAME and intent == DANGER_INTENT:
            probabilities[domain.index_for_action(DANGER_RESPONSE)] = 1.0
            return self._prediction(probabilities, is_no_user_prediction=True)
        if latest in following and intent == DANGER_INTENT:
            probabilities[domain.index_for_action(following[latest])] = 1.0
            return self._prediction(probabilities, is_no_user_prediction=True)
        return self._prediction(probabilities)
