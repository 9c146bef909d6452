"""What the actions share: reading the tracker, the forms' validation, going back to what is unfinished.

Business rules live in bot/; these only translate between Rasa and it.
"""
from __future__ import annotations

from abc import abstractmethod
from datetime import datetime, timezone
from typing import Any, Dict, List, Text

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import settings as settings_module
from bot.questionnaire import Questionnaire
from bot.report.flow import take_reply
from bot.report.questions import REPORT, SLOTS, next_slot
from bot.report.reading import Reply
from bot.safety.check import SAFETY
from bot.sla import service_today

FORM = "report_form"
SAFETY_FORM = "safety_form"
BOOKING_FORM = "booking_form"
REQUESTED = "requested_slot"


def report_answers(tracker: Tracker) -> Dict[str, Any]:
    return {slot: tracker.get_slot(slot) for slot in SLOTS}


def language_of(tracker: Tracker) -> str:
    return tracker.get_slot("language") or "en"


def reply_of(tracker: Tracker) -> Reply:
    message = tracker.latest_message or {}
    intent = message.get("intent") or {}
    value = next((e.get("value") for e in message.get("entities") or [] if e.get("entity") == "value"), None)
    return Reply(
        text=message.get("text") or "",
        intent=intent.get("name"),
        confidence=float(intent.get("confidence") or 0.0),
        value=str(value) if value is not None else None,
        language=language_of(tracker),
    )


def reply_to_read(tracker: Tracker, form: str = FORM) -> tuple[bool, bool]:
    """(the form runs straight after a user message, the 999 advice was already given for it).

    Rasa hands the validation action a copy of the tracker that ends with the form's own
    action (and slot events), so look past those for the user's message; the danger policy
    may have given the 999 advice in between.
    """
    warned = False
    for event in reversed(tracker.events):
        kind, name = event.get("event"), event.get("name")
        if kind in ("slot", "user_featurization", "bot") or (kind == "action" and name in (form, "action_extract_slots")):
            continue
        if kind == "action" and name == "utter_danger_999":
            warned = True
            continue
        return kind == "user", warned
    return False, False


def slot_events(changes: Dict[str, Any]) -> List[EventType]:
    return [SlotSet(slot, value) for slot, value in changes.items()]


def forget(tracker: Tracker, slots) -> List[EventType]:
    """Empty these slots, only those that hold something (every event is replayed on every later turn)."""
    return [SlotSet(slot, None) for slot in slots if tracker.get_slot(slot) is not None]


def clear_report(tracker: Tracker) -> List[EventType]:
    """Forget the report's answers (only the slots that hold something: every event is
    replayed on every later turn)."""
    return forget(tracker, [*SLOTS, "consent_log", REQUESTED])


def carry_on(tracker: Tracker) -> List[EventType]:
    """Back to what is unfinished: the report's next question (or its summary when all are
    answered), or the safety check's next question."""
    if tracker.get_slot("report_status") == "in_progress":
        return [FollowupAction("action_show_summary" if next_slot(report_answers(tracker)) is None else FORM)]
    if tracker.get_slot("safety_status") == "in_progress":
        return [FollowupAction(SAFETY_FORM)]
    if tracker.get_slot("booking_status") == "in_progress":
        return [FollowupAction(BOOKING_FORM)]
    return []


def start_safety_check(tracker: Tracker, context: Dict[str, Any]) -> List[EventType]:
    """The safety check begins with a clean slate; ``context`` holds the facts its questions
    depend on (has_contact)."""
    return forget(tracker, SAFETY.slots) + [
        SlotSet("safety_context", context),
        SlotSet("safety_status", "in_progress"),
        SlotSet(REQUESTED, None),
    ]  # a rule (data/rules/report.yml) then begins the safety form


def clear_safety_check(tracker: Tracker) -> List[EventType]:
    return forget(tracker, [*SAFETY.slots, "safety_context", REQUESTED])


class QuestionnaireValidation(FormValidationAction):
    """Reads each reply to a form's questions and picks the next question (bot.report.flow)."""

    form = FORM
    questionnaire: Questionnaire = REPORT

    @abstractmethod
    def name(self) -> Text:
        """Each form's own validation action names itself (this base is not registered)."""

    def answers(self, tracker: Tracker) -> Dict[str, Any]:
        return {slot: tracker.get_slot(slot) for slot in self.questionnaire.slots}

    def questionnaire_for(self, tracker: Tracker) -> Questionnaire:
        return self.questionnaire

    async def after(self, step, tracker: Tracker, dispatcher: CollectingDispatcher) -> List[EventType]:
        """Anything a form does once a reply is read (nothing, unless a form says so)."""
        return []

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        settings = settings_module.load()
        fresh, warned = reply_to_read(tracker, self.form)
        fresh_reply = tracker.active_loop_name == self.form and fresh
        now = datetime.now(timezone.utc)
        step = take_reply(
            self.answers(tracker),
            tracker.get_slot(REQUESTED),
            reply_of(tracker) if fresh_reply else None,
            today=service_today(now, settings),
            now_iso=now.isoformat(),
            language=language_of(tracker),
            consent_log=tracker.get_slot("consent_log"),
            already_warned=warned,
            questionnaire=self.questionnaire_for(tracker),
        )
        if step.command:
            return []  # nothing extracted: the form steps aside and the rules answer the command
        for response in step.responses:
            dispatcher.utter_message(response=response)
        extra = await self.after(step, tracker, dispatcher)
        return slot_events(step.changes) + extra + [SlotSet(REQUESTED, step.next_slot)]
