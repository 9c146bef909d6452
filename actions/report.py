"""Actions of the report journey. Business rules live in bot/; these only translate."""
from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timezone
from typing import Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    BOOKING_FORM, FORM, REQUESTED, SAFETY_FORM, QuestionnaireValidation, carry_on, clear_report, clear_safety_check,
    language_of, reply_of, report_answers, start_safety_check,
)
from actions.safety import keep_progress
from bot import settings as settings_module
from bot.booking.hours import opens_later, steps_out_of_hours, told_by
from bot.booking.service import attach_case
from bot.cases import submit_report
from bot.db import session_factory
from bot.i18n import N_, NP_, format_when, translate, translate_plural
from bot.booking.questions import BOOKING, with_context
from bot.report.flow import opening_account
from bot.report.questions import BY_SLOT, REPORT, answered_slots, has_contact
from bot.report.reading import is_stop_request
from bot.report.summary import change_choices, summary_text
from bot.safety.check import SAFETY, with_facts

logger = logging.getLogger(__name__)

ANSWERED = NP_("You've answered {count} question so far.", "You've answered {count} questions so far.")


class ActionStartReport(Action):
    """A new report (or the one in progress, resumed): its id, and their opening account if they gave one."""

    def name(self) -> Text:
        return "action_start_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        if tracker.get_slot("report_status") == "in_progress" and tracker.get_slot("report_id"):
            # The same report (perhaps begun by a danger message): never a second case for it.
            answered = len(answered_slots(report_answers(tracker)))
            if answered:
                dispatcher.utter_message(response="utter_resume_report",
                                         answered=translate_plural(ANSWERED, answered, language_of(tracker)))
            return [SlotSet(REQUESTED, None)]
        events = clear_report(tracker) + [
            SlotSet("report_id", uuid.uuid4().hex),
            SlotSet("report_status", "in_progress"),
        ]
        # A new report starts clean: the last one's case, risk and safety check are with that case.
        for slot, empty in (("safety_status", None), ("case_reference", None), ("risk_level", None),
                            ("immediate_risk", False)):
            if tracker.get_slot(slot) not in (None, False):
                events.append(SlotSet(slot, empty))
        account = opening_account(reply_of(tracker))
        if account:
            events.append(SlotSet("description", account))
        return events


class ValidateReportForm(QuestionnaireValidation):
    def name(self) -> Text:
        return "validate_report_form"


class ActionShowSummary(Action):
    def name(self) -> Text:
        return "action_show_summary"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        dispatcher.utter_message(response="utter_summary", summary=summary_text(report_answers(tracker), language_of(tracker)))
        return []


class CaseStoreUnavailable(RuntimeError):
    """The action server answers an error, so the Rasa server tells the person and sends it later."""


class ActionSubmitReport(Action):
    """Creates the case (idempotent on the report id) and says what happens next."""

    def name(self) -> Text:
        return "action_submit_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        settings = settings_module.load()
        language = language_of(tracker)
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
                answers=report_answers(tracker),
                consent_log=tracker.get_slot("consent_log"),
                immediate_risk=bool(tracker.get_slot("immediate_risk")),
            )
        except Exception as exc:  # the database is down: the Rasa server keeps it waiting (bot/rasa_ext/submit_guard.py)
            logger.error("case submit failed: %s", type(exc).__name__)
            raise CaseStoreUnavailable("the case could not be stored; the report waits to be sent") from None
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
        # Out of hours: said plainly (the report is taken all the same; danger went to on-call).
        opens = opens_later(datetime.now(timezone.utc), settings)
        params["office_opens"] = when(opens)
        params["first_contact_due"] = when(told_by(opens, submission.first_contact_due_at))
        for step in steps_out_of_hours(submission.next_steps, opens, submission.first_contact_due_at):
            dispatcher.utter_message(response=f"utter_next_{step}", **params)
        for response in submission.told:
            dispatcher.utter_message(response=response)
        if tracker.get_slot("booking_reference"):
            await _attach_booking(settings, tracker, submission.reference)
        # The answers are in the case now; the conversation keeps only the reference. Then the
        # safety check, which knows from the report only whether there are contact details.
        context = {"has_contact": has_contact(report_answers(tracker))}
        return clear_report(tracker) + [
            SlotSet("case_reference", submission.reference),
            SlotSet("report_status", "submitted"),
            SlotSet("report_id", None),
            *start_safety_check(tracker, context),
        ]


class ActionGoBack(Action):
    def name(self) -> Text:
        return "action_go_back"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        loop = tracker.active_loop_name
        questionnaire = {SAFETY_FORM: SAFETY, BOOKING_FORM: BOOKING}.get(loop, REPORT)
        current = tracker.get_slot(REQUESTED) if loop in (FORM, SAFETY_FORM, BOOKING_FORM) else None
        answers = {slot: tracker.get_slot(slot) for slot in questionnaire.slots}
        if questionnaire is SAFETY:
            answers = with_facts(answers, tracker.get_slot("safety_context") or {})
        if questionnaire is BOOKING:
            answers = with_context(answers, tracker.get_slot("booking_context") or {})
        previous = questionnaire.previous_slot(answers, current)
        if previous is None:
            dispatcher.utter_message(response="utter_nothing_to_go_back_to")
            return [SlotSet(REQUESTED, None)]
        dispatcher.utter_message(response="utter_gone_back")
        return [SlotSet(previous, None), SlotSet(REQUESTED, None)]


NEVER_MIND = N_("Never mind")


class ActionListAnswers(Action):
    def name(self) -> Text:
        return "action_list_answers"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        language = language_of(tracker)
        choices = change_choices(report_answers(tracker), language)
        if not choices:
            dispatcher.utter_message(response="utter_nothing_to_change")
            return carry_on(tracker)  # rather than wait for a choice there is none to make
        buttons = [{"title": label, "payload": '/choose{"value":"%s"}' % slot} for slot, label in choices]
        buttons.append({"title": translate(NEVER_MIND, language), "payload": "/deny"})
        dispatcher.utter_message(response="utter_which_answer", buttons=buttons)
        return []


class ActionResetAnswer(Action):
    """Clears the answer they chose to change, so the form asks that question again."""

    def name(self) -> Text:
        return "action_reset_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        slot = reply_of(tracker).value
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
        if not is_stop_request(reply_of(tracker)):
            dispatcher.utter_message(response="utter_not_stopped")
            return carry_on(tracker)
        reference = tracker.get_slot("case_reference")
        if tracker.get_slot("safety_status") == "in_progress":
            # The report is sent; keep whatever safety answers they gave, then stop asking.
            if not await keep_progress(tracker, dispatcher, before="utter_safety_stopped"):
                dispatcher.utter_message(response="utter_safety_failed")
                return [ActiveLoop(None)]  # the answers stay here; "carry on" tries again
            return clear_safety_check(tracker) + [SlotSet("safety_status", None), ActiveLoop(None)]
        if tracker.get_slot("report_status") == "in_progress" and reference:
            # A danger message already made the case: it keeps what they told us, and they are told so.
            await keep_progress(tracker, dispatcher, before="utter_stopped_flagged")
        else:
            dispatcher.utter_message(response="utter_stopped")
        events = clear_report(tracker) + [SlotSet("report_id", None), ActiveLoop(None)]
        if tracker.get_slot("report_status") == "in_progress":
            events.append(SlotSet("report_status", None))
        return events


async def _attach_booking(settings, tracker: Tracker, reference: str) -> None:
    """A call booked before the report (they asked for a person first) joins the case."""
    try:
        await asyncio.to_thread(attach_case, session_factory(settings.database_url),
                                conversation_id=tracker.sender_id, case_reference=reference)
    except Exception as exc:  # the booking stands; the officer can link it
        logger.error("booking not linked to the case: %s", type(exc).__name__)
