"""Actions of the safety side: danger now, carrying on afterwards, and the safety check.

Business rules live in bot/ (bot/cases.py, bot/safety/, bot/referrals.py); these only translate.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    REQUESTED, SAFETY_FORM, QuestionnaireValidation, carry_on, clear_safety_check, language_of, reply_of,
    report_answers,
)
from bot import settings as settings_module
from bot.cases import SafetyResult, flag_immediate_risk, record_safety_check, save_unfinished
from bot.db import session_factory
from bot.report.flow import account_from_danger
from bot.safety.check import SAFETY, with_facts
from bot.safety.lexicons import signs_in_any_language as danger_signs

logger = logging.getLogger(__name__)


def safety_answers(tracker: Tracker) -> Dict[str, Any]:
    return {slot: tracker.get_slot(slot) for slot in SAFETY.slots}


async def flag_danger(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """Flag the case as immediate risk at once (made from the answers so far if the report is
    unfinished, or begun now if there is none) and alert the on-call officer."""
    events: List[EventType] = [SlotSet("immediate_risk", True)]
    answers = report_answers(tracker)
    status = tracker.get_slot("report_status")
    reference = tracker.get_slot("case_reference")
    report_id = tracker.get_slot("report_id")
    if status != "in_progress" and not reference:
        report_id = uuid.uuid4().hex  # no report yet: this begins one
        events += [SlotSet("report_id", report_id), SlotSet("report_status", "in_progress")]
        status = "in_progress"
    account = account_from_danger(answers, reply_of(tracker)) if status == "in_progress" else None
    if account:
        answers["description"] = account
        events.append(SlotSet("description", account))
    settings = settings_module.load()
    try:
        flagged = await asyncio.to_thread(
            flag_immediate_risk,
            session_factory(settings.database_url),
            settings,
            conversation_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel() or "unknown",
            language=language_of(tracker),
            report_id=report_id or uuid.uuid4().hex,
            answers=answers,
            consent_log=tracker.get_slot("consent_log"),
            case_reference=reference,
            signs=tuple(danger_signs(reply_of(tracker).text)),
        )
    except Exception as exc:  # the 999 advice is already given; "carry on" or the report tries again
        logger.error("immediate risk flag failed: %s", type(exc).__name__)
        return events
    logger.info("immediate risk flagged (case created=%s, alerted=%s)", flagged.created, flagged.alerted)
    if flagged.alerted:
        dispatcher.utter_message(response="utter_danger_alerted")
    return events + [SlotSet("case_reference", flagged.reference)]


class ActionFlagDanger(Action):
    """After the 999 advice (which needs none of this; the danger policy has paused any form):
    flag the case and alert the on-call officer. If the database is down the advice has still
    been given, and carrying on tries the flag again."""

    def name(self) -> Text:
        return "action_flag_danger"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        events = await flag_danger(dispatcher, tracker)
        if tracker.active_loop_name:
            events += [ActiveLoop(None), SlotSet(REQUESTED, None)]  # paused: its answers are kept
        return events


async def keep_progress(tracker: Tracker, dispatcher: CollectingDispatcher, before: Optional[str] = None) -> bool:
    """Store what is unfinished before they go: the safety check's answers so far (telling them
    of any referral those raise), or a flagged report's answers so far. ``before`` is said first,
    with the case reference. False when it could not be stored."""
    reference = tracker.get_slot("case_reference")
    if tracker.get_slot("safety_status") == "in_progress":
        result = await save_safety_answers(tracker)
        if result is None:
            return False
        if before:
            dispatcher.utter_message(response=before, case_reference=reference)
        for response in result.told:
            dispatcher.utter_message(response=response)
        return True
    if before:
        dispatcher.utter_message(response=before, case_reference=reference)
    if tracker.get_slot("report_status") != "in_progress" or not reference or not tracker.get_slot("report_id"):
        return True  # an unflagged unfinished report stays in the conversation only
    settings = settings_module.load()
    try:
        await asyncio.to_thread(
            save_unfinished, session_factory(settings.database_url), settings,
            report_id=tracker.get_slot("report_id"), conversation_id=tracker.sender_id,
            language=language_of(tracker), answers=report_answers(tracker),
            consent_log=tracker.get_slot("consent_log"),
        )
    except Exception as exc:
        logger.error("unfinished report not kept: %s", type(exc).__name__)
        return False
    return True


class ActionSaveProgress(Action):
    """"Not now": after saying that is fine (a response that needs no action server), keep
    what is unfinished with the case."""

    def name(self) -> Text:
        return "action_save_progress"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        await keep_progress(tracker, dispatcher)
        return []


class ActionCarryOn(Action):
    """"Carry on": back to whatever is unfinished (the report, or the safety check)."""

    def name(self) -> Text:
        return "action_carry_on"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        flagged: List[EventType] = []
        if tracker.get_slot("immediate_risk") and not tracker.get_slot("case_reference"):
            flagged = await flag_danger(dispatcher, tracker)  # the flag failed earlier: try again
        events = carry_on(tracker)
        if not events:
            dispatcher.utter_message(response="utter_nothing_to_carry_on")
            return flagged
        if tracker.get_slot("report_status") == "in_progress" and not _said(tracker, "utter_privacy"):
            # A report begun by a danger message: how it is kept confidential comes first.
            dispatcher.utter_message(response="utter_privacy")
        return flagged + events


def _said(tracker: Tracker, response: str) -> bool:
    return any(e.get("event") == "action" and e.get("name") == response for e in tracker.events)


class ValidateSafetyForm(QuestionnaireValidation):
    form = SAFETY_FORM
    questionnaire = SAFETY

    def name(self) -> Text:
        return "validate_safety_form"

    def answers(self, tracker: Tracker) -> Dict[str, Any]:
        return with_facts(safety_answers(tracker), tracker.get_slot("safety_context") or {})


async def save_safety_answers(tracker: Tracker) -> Optional[SafetyResult]:
    """Store and score the safety check's answers with the case; None if that failed."""
    reference = tracker.get_slot("case_reference")
    if not reference:
        return None
    settings = settings_module.load()
    try:
        return await asyncio.to_thread(
            record_safety_check,
            session_factory(settings.database_url),
            settings,
            case_reference=reference,
            conversation_id=tracker.sender_id,
            answers=safety_answers(tracker),
        )
    except Exception as exc:
        logger.error("safety check not stored: %s", type(exc).__name__)
        return None


class ActionScoreSafetyCheck(Action):
    """The safety check is answered: score it with the case, say what follows, and forget
    the answers here (they are with the case)."""

    def name(self) -> Text:
        return "action_score_safety_check"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        if tracker.get_slot("safe_to_talk") == "no":
            await save_safety_answers(tracker)  # the case records that it was not safe to talk
            dispatcher.utter_message(response="utter_safety_not_now")
            return clear_safety_check(tracker) + [SlotSet("safety_status", None)]
        result = await save_safety_answers(tracker)
        if result is None:
            dispatcher.utter_message(response="utter_safety_failed")
            return []  # the answers stay here; "carry on" tries again
        events = clear_safety_check(tracker) + [SlotSet("safety_status", "done")]
        if result.assessment is None:
            dispatcher.utter_message(response="utter_safety_saved")
            return events
        dispatcher.utter_message(response=f"utter_safety_result_{result.assessment.level}")
        for response in result.told:
            dispatcher.utter_message(response=response)
        return events + [SlotSet("risk_level", result.assessment.level)]
