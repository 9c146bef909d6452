"""Actions of the report journey. Business rules live in bot/; these only translate."""
from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import settings as settings_module
from bot.cases import submit_report
from bot.db import session_factory
from bot.i18n import format_when
from bot.sla import service_today
from bot.report.flow import opening_account, take_reply
from bot.report.questions import BY_SLOT, SLOTS, answered_slots, next_slot, previous_slot
from bot.report.reading import Reply, is_stop_request
from bot.report.summary import change_choices, summary_text

logger = logging.getLogger(__name__)

FORM = "report_form"
REQUESTED = "requested_slot"


def _answers(tracker: Tracker) -> Dict[str, Any]:
    return {slot: tracker.get_slot(slot) for slot in SLOTS}


def _language(tracker: Tracker) -> str:
    return tracker.get_slot("language") or "en"


def _reply(tracker: Tracker) -> Reply:
    message = tracker.latest_message or {}
    intent = message.get("intent") or {}
    value = next((e.get("value") for e in message.get("entities") or [] if e.get("entity") == "value"), None)
    return Reply(
        text=message.get("text") or "",
        intent=intent.get("name"),
        confidence=float(intent.get("confidence") or 0.0),
        value=str(value) if value is not None else None,
    )


def _reply_to_read(tracker: Tracker) -> tuple[bool, bool]:
    """(the form runs straight after a user message, the 999 advice was already given for it).

    Rasa hands the validation action a copy of the tracker that ends with the form's own
    action (and slot events), so look past those for the user's message; the danger policy
    may have given the 999 advice in between.
    """
    warned = False
    for event in reversed(tracker.events):
        kind, name = event.get("event"), event.get("name")
        if kind in ("slot", "user_featurization", "bot") or (kind == "action" and name in (FORM, "action_extract_slots")):
            continue
        if kind == "action" and name == "utter_danger_999":
            warned = True
            continue
        return kind == "user", warned
    return False, False


def _slot_events(changes: Dict[str, Any]) -> List[EventType]:
    return [SlotSet(slot, value) for slot, value in changes.items()]


def _clear_report(tracker: Tracker) -> List[EventType]:
    """Forget the report's answers (only the slots that hold something: every event is
    replayed on every later turn)."""
    slots = [*SLOTS, "consent_log", REQUESTED]
    return [SlotSet(slot, None) for slot in slots if tracker.get_slot(slot) is not None]


def _carry_on(tracker: Tracker) -> List[EventType]:
    """Back to the report in progress: its next question, or its summary when all are answered."""
    if tracker.get_slot("report_status") != "in_progress":
        return []
    return [FollowupAction("action_show_summary" if next_slot(_answers(tracker)) is None else FORM)]


class ActionStartReport(Action):
    """A new report (or the one in progress, resumed): its id, and their opening account if they gave one."""

    def name(self) -> Text:
        return "action_start_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        if tracker.get_slot("report_status") == "in_progress" and answered_slots(_answers(tracker)):
            dispatcher.utter_message(response="utter_resume_report")
            return [SlotSet(REQUESTED, None)]
        events = _clear_report(tracker) + [
            SlotSet("report_id", uuid.uuid4().hex),
            SlotSet("report_status", "in_progress"),
        ]
        account = opening_account(_reply(tracker))
        if account:
            events.append(SlotSet("description", account))
        return events


class ValidateReportForm(FormValidationAction):
    """Reads each reply to the report's questions and picks the next question (bot.report.flow)."""

    def name(self) -> Text:
        return "validate_report_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        settings = settings_module.load()
        fresh, warned = _reply_to_read(tracker)
        fresh_reply = tracker.active_loop_name == FORM and fresh
        now = datetime.now(timezone.utc)
        step = take_reply(
            _answers(tracker),
            tracker.get_slot(REQUESTED),
            _reply(tracker) if fresh_reply else None,
            today=service_today(now, settings),
            now_iso=now.isoformat(),
            language=_language(tracker),
            consent_log=tracker.get_slot("consent_log"),
            already_warned=warned,
        )
        if step.command:
            return []  # nothing extracted: the form steps aside and the rules answer the command
        for response in step.responses:
            dispatcher.utter_message(response=response)
        return _slot_events(step.changes) + [SlotSet(REQUESTED, step.next_slot)]


class ActionShowSummary(Action):
    def name(self) -> Text:
        return "action_show_summary"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        dispatcher.utter_message(response="utter_summary", summary=summary_text(_answers(tracker), _language(tracker)))
        return []


class ActionSubmitReport(Action):
    """Creates the case (idempotent on the report id) and says what happens next."""

    def name(self) -> Text:
        return "action_submit_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        settings = settings_module.load()
        language = _language(tracker)
        report_id = tracker.get_slot("report_id")
        if report_id is None:
            if tracker.get_slot("report_status") == "submitted":
                # A second "yes" after sending: never a second, empty case.
                dispatcher.utter_message(response="utter_already_sent", case_reference=tracker.get_slot("case_reference"))
                return []
            report_id = uuid.uuid4().hex
        try:
            submission = await asyncio.to_thread(
                submit_report,
                session_factory(settings.database_url),
                settings,
                report_id=report_id,
                conversation_id=tracker.sender_id,
                channel=tracker.get_latest_input_channel() or "unknown",
                language=language,
                answers=_answers(tracker),
                consent_log=tracker.get_slot("consent_log"),
                immediate_risk=bool(tracker.get_slot("immediate_risk")),
            )
        except Exception as exc:  # the database is down: keep every answer and say so
            logger.error("case submit failed: %s", type(exc).__name__)
            dispatcher.utter_message(response="utter_submit_failed")
            return [SlotSet("report_id", report_id)]
        logger.info("case stored (created=%s)", submission.created)

        def when(moment: Optional[datetime]) -> str:
            return format_when(moment, language, settings.timezone) if moment else ""

        params = {
            "case_reference": submission.reference,
            "first_contact_due": when(submission.first_contact_due_at),
            "graffiti_due": when(submission.graffiti_removal_due_at),
            "repair_due": when(submission.emergency_repair_due_at),
        }
        dispatcher.utter_message(response="utter_submitted", **params)
        for step in submission.next_steps:
            dispatcher.utter_message(response=f"utter_next_{step}", **params)
        # The answers are in the case now; the conversation keeps only the reference.
        return _clear_report(tracker) + [
            SlotSet("case_reference", submission.reference),
            SlotSet("report_status", "submitted"),
            SlotSet("report_id", None),
        ]


class ActionGoBack(Action):
    def name(self) -> Text:
        return "action_go_back"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        current = tracker.get_slot(REQUESTED) if tracker.active_loop_name == FORM else None
        previous = previous_slot(_answers(tracker), current)
        if previous is None:
            dispatcher.utter_message(response="utter_nothing_to_go_back_to")
            return [SlotSet(REQUESTED, None)]
        dispatcher.utter_message(response="utter_gone_back")
        return [SlotSet(previous, None), SlotSet(REQUESTED, None)]


class ActionListAnswers(Action):
    def name(self) -> Text:
        return "action_list_answers"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        choices = change_choices(_answers(tracker))
        if not choices:
            dispatcher.utter_message(response="utter_nothing_to_change")
            return _carry_on(tracker)  # rather than wait for a choice there is none to make
        buttons = [{"title": label, "payload": '/choose{"value":"%s"}' % slot} for slot, label in choices]
        buttons.append({"title": "Never mind", "payload": "/deny"})
        dispatcher.utter_message(response="utter_which_answer", buttons=buttons)
        return []


class ActionResetAnswer(Action):
    """Clears the answer they chose to change, so the form asks that question again."""

    def name(self) -> Text:
        return "action_reset_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        slot = _reply(tracker).value
        if slot not in BY_SLOT or tracker.get_slot(slot) is None:
            dispatcher.utter_message(response="utter_change_kept")
            return [SlotSet(REQUESTED, None)]
        return [SlotSet(slot, None), SlotSet(REQUESTED, None)]


class ActionStopReport(Action):
    """"stop": forget the unsent report after saying so (a sent one is a case now and stays).
    Only a real request to stop does this; anything else is answered and the report goes on."""

    def name(self) -> Text:
        return "action_stop_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        if not is_stop_request(_reply(tracker)):
            dispatcher.utter_message(response="utter_not_stopped")
            return _carry_on(tracker)
        dispatcher.utter_message(response="utter_stopped")
        events = _clear_report(tracker) + [SlotSet("report_id", None), ActiveLoop(None)]
        if tracker.get_slot("report_status") == "in_progress":
            events.append(SlotSet("report_status", None))
        return events
