"""Actions for booking a private call with an officer. Rules live in bot/booking/; these only translate."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import BOOKING_FORM, REQUESTED, QuestionnaireValidation, forget, language_of
from bot import settings as settings_module
from bot.booking import service
from bot.booking.callbacks import request_callback
from bot.booking.questions import (
    NONE_OF_THESE_TIMES,
    BOOKING, CHECK, NO_TIME_SUITS, RESCHEDULE, offered_times, preference, with_context,
)
from bot.booking.slots import Needs, Offer, offers
from bot.cases import call_contact
from bot.db import session_factory
from bot.i18n import spoken_time, translate
from bot.questionnaire import SKIPPED, Questionnaire

logger = logging.getLogger(__name__)


def booking_answers(tracker: Tracker) -> Dict[str, Any]:
    return {slot: tracker.get_slot(slot) for slot in BOOKING.slots}


def needs_of(tracker: Tracker, answers: Dict[str, Any]) -> Needs:
    """What the officer and time must be: sex and ethnic background if asked, the call's
    language, and the times they said are safe (a hard limit: a call at an unsafe time can
    put them at risk)."""
    language = answers.get("call_language")
    context = tracker.get_slot("booking_context") or {}
    asked = answers.get("call_safe_times")
    times = context.get("safe_times") or (asked if isinstance(asked, list) else [])
    return Needs(
        language=language if language not in (None, SKIPPED) else language_of(tracker),
        officer_sex=preference(answers, "officer_sex"),
        ethnic_origin=preference(answers, "officer_ethnicity"),
        safe_times=tuple(t for t in times if t != "any"),
    )


def _offer_data(offer: Offer) -> Dict[str, Any]:
    return {
        "officer_id": offer.officer_id, "officer_name": offer.officer_name,
        "starts_at": offer.starts_at.isoformat(), "ends_at": offer.ends_at.isoformat(),
        "interpreter": offer.interpreter, "same_ethnic_origin": offer.same_ethnic_origin,
        "within_first_contact": offer.within_first_contact,
    }


def _offer_from(data: Dict[str, Any]) -> Offer:
    return Offer(**{**data, "starts_at": datetime.fromisoformat(data["starts_at"]),
                    "ends_at": datetime.fromisoformat(data["ends_at"])})


def _labels(tracker: Tracker) -> List[str]:
    """Each offered time as a person reads it, with who it is with and whether an interpreter joins."""
    settings = settings_module.load()
    labels = []
    for data in tracker.get_slot("call_offers") or []:
        offer = _offer_from(data)
        label = f"{spoken_time(offer.starts_at, language_of(tracker), settings)}, {offer.officer_name}"
        if offer.interpreter:
            label += " (BSL interpreter)" if offer.interpreter == "bsl" else " (with an interpreter)"
        labels.append(label)
    return labels


class ActionOfferCall(Action):
    """After the safety check: a private call with an officer is offered (unless one is booked)."""

    def name(self) -> Text:
        return "action_offer_call"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        if tracker.get_slot("booking_status") != "booked":
            dispatcher.utter_message(response="utter_offer_call")
        return []


class ActionStartBooking(Action):
    """The booking questions begin, knowing from the case whether a safe number and voicemail
    are already known (so they are not asked again)."""

    def name(self) -> Text:
        return "action_start_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        settings = settings_module.load()
        try:
            known = await asyncio.to_thread(call_contact, session_factory(settings.database_url),
                                            case_reference=tracker.get_slot("case_reference"),
                                            conversation_id=tracker.sender_id)
        except Exception as exc:  # then they are simply asked
            logger.error("contact details not read: %s", type(exc).__name__)
            known = None
        context = {"known_phone": bool(known and known.phone),
                   "known_voicemail": known.voicemail_ok if known else None,
                   "safe_times": list(known.safe_times) if known else [],
                   "known_safe_times": bool(known and known.safe_times)}
        cleared = forget(tracker, BOOKING.slots)
        return cleared + [SlotSet("booking_context", context), SlotSet("booking_status", "in_progress"),
                          SlotSet("call_offers", None), SlotSet(REQUESTED, None)]


class ValidateBookingForm(QuestionnaireValidation):
    form = BOOKING_FORM
    questionnaire = BOOKING

    def name(self) -> Text:
        return "validate_booking_form"

    def answers(self, tracker: Tracker) -> Dict[str, Any]:
        return with_context(booking_answers(tracker), tracker.get_slot("booking_context") or {})

    def questionnaire_for(self, tracker: Tracker) -> Questionnaire:
        return offered_times(_labels(tracker))

    async def after(self, step, tracker: Tracker, dispatcher: CollectingDispatcher) -> List[EventType]:
        """Before the time is asked, the free times are found; when there are none for what they
        asked, they are told honestly and an officer will arrange a time instead."""
        if step.next_slot != "call_time" or tracker.get_slot("call_offers"):
            return []
        settings = settings_module.load()
        answers = {**booking_answers(tracker), **step.changes}
        try:
            due = (await asyncio.to_thread(call_contact, session_factory(settings.database_url),
                                           case_reference=tracker.get_slot("case_reference"),
                                           conversation_id=tracker.sender_id)).first_contact_due_at
        except Exception as exc:
            logger.error("case not read: %s", type(exc).__name__)
            due = None
        events = await offer_times(step, dispatcher, needs_of(tracker, answers), due)
        if step.changes.get("call_time") == NO_TIME_SUITS:  # none: on to the questions after the time
            answers["call_time"] = NO_TIME_SUITS
            step.next_slot = BOOKING.next_slot(with_context(answers, tracker.get_slot("booking_context") or {}))
        return events


async def offer_times(step, dispatcher: CollectingDispatcher, needs: Needs, due: Optional[datetime],
                      first_call: bool = True) -> List[EventType]:
    """The free times for ``needs`` (kept in ``call_offers`` for the question that shows them), with,
    for a ``first_call``, a word when none is within the first-contact standard; when there are none at all, they are
    told honestly, and "none suits" is the answer (an officer will arrange a time)."""
    settings = settings_module.load()
    now = datetime.now(timezone.utc)
    try:
        found = await asyncio.to_thread(_offers, session_factory(settings.database_url), settings, needs, now,
                                        due or now + timedelta(hours=settings.first_contact_hours))
    except Exception as exc:
        logger.error("free times not found: %s", type(exc).__name__)
        found = []
    if not found:
        dispatcher.utter_message(response="utter_call_no_match")
        step.changes["call_time"] = NO_TIME_SUITS
        step.next_slot = None
        return []
    if first_call and not any(o.within_first_contact for o in found):
        dispatcher.utter_message(response="utter_call_times_after_standard")
    return [SlotSet("call_offers", [_offer_data(o) for o in found])]


def _offers(factory, settings, needs: Needs, now: datetime, due: datetime) -> List[Offer]:
    with factory() as session:
        return offers(session, settings, needs, now=now, first_contact_due=due, limit=4)


class ActionAskCallTime(Action):
    """Asks for the time with the free times found just before, in their local time, as buttons."""

    def name(self) -> Text:
        return "action_ask_call_time"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        buttons = [{"title": label, "payload": '/choose{"value":"%d"}' % i} for i, label in enumerate(_labels(tracker))]
        buttons.append({"title": translate(NONE_OF_THESE_TIMES, language_of(tracker)), "payload": '/choose{"value":"%s"}' % NO_TIME_SUITS})
        dispatcher.utter_message(response="utter_ask_call_time", buttons=buttons)
        return []


class ActionBookCall(Action):
    """Books the chosen time (or, when none suits, asks an officer to arrange one) and confirms it."""

    def name(self) -> Text:
        return "action_book_call"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        settings = settings_module.load()
        factory = session_factory(settings.database_url)
        answers = booking_answers(tracker)
        needs = needs_of(tracker, answers)
        reference = tracker.get_slot("case_reference")
        chosen = answers.get("call_time")
        done = forget(tracker, BOOKING.slots)
        done += [SlotSet("call_offers", None), SlotSet("booking_context", None)]
        try:
            if chosen in (None, SKIPPED, NO_TIME_SUITS):
                await asyncio.to_thread(request_callback, factory, settings, case_reference=reference,
                                        conversation_id=tracker.sender_id, needs=needs,
                                        contact_method=answers.get("call_method"))
                dispatcher.utter_message(response="utter_call_request_noted")
                return done + [SlotSet("booking_status", None)]
            offer = _offer_from((tracker.get_slot("call_offers") or [])[int(chosen)])
            booked = await asyncio.to_thread(self._book, factory, settings, tracker, offer, needs, answers)
        except service.SlotTaken:
            dispatcher.utter_message(response="utter_call_time_taken")
            return [SlotSet("call_time", None), SlotSet("call_offers", None), FollowupAction(BOOKING_FORM)]
        except Exception as exc:  # the database is down: keep their choices and say so
            logger.error("call not booked: %s", type(exc).__name__)
            dispatcher.utter_message(response="utter_booking_failed")
            return []
        logger.info("call booked")
        when = spoken_time(booked.starts_at, language_of(tracker), settings)
        dispatcher.utter_message(response="utter_call_booked", call_time=when, officer_name=booked.officer_name,
                                 booking_reference=booked.reference)
        if booked.interpreter == "bsl":
            dispatcher.utter_message(response="utter_call_booked_bsl")
        elif booked.interpreter:
            dispatcher.utter_message(response="utter_call_booked_interpreter")
        if answers.get("call_method") == "in_person":
            dispatcher.utter_message(response="utter_call_booked_in_person")
        if answers.get("call_secret") not in (None, SKIPPED):
            dispatcher.utter_message(response="utter_call_booked_change")
        return done + [SlotSet("booking_reference", booked.reference), SlotSet("booking_status", "booked")]

    @staticmethod
    def _book(factory, settings, tracker: Tracker, offer: Offer, needs: Needs, answers: Dict[str, Any]):
        known = call_contact(factory, case_reference=tracker.get_slot("case_reference"), conversation_id=tracker.sender_id)
        given = answers.get("call_phone")
        phone = given.get("phone") if isinstance(given, dict) else None
        if phone is None and answers.get("call_use_known_phone") == "yes":
            phone = known.phone
        voicemail = answers.get("call_voicemail")
        secret = answers.get("call_secret")
        return service.book(
            factory, settings,
            case_reference=tracker.get_slot("case_reference"),
            conversation_id=tracker.sender_id,
            offer=offer,
            needs=needs,
            contact_method=answers.get("call_method") if answers.get("call_method") != SKIPPED else "phone",
            phone=phone,
            voicemail_ok=(voicemail == "yes") if voicemail in ("yes", "no") else bool(known.voicemail_ok),
            reminders_ok=answers.get("call_reminder") == "yes" and phone is not None,
            update_frequency=_chosen(answers, "update_frequency", "on_change"),
            secret=secret if secret not in (None, SKIPPED) else None,
        )


def _chosen(answers: Dict[str, Any], slot: str, default: str) -> str:
    value = answers.get(slot)
    return default if value in (None, SKIPPED) else value


# --- Changing or cancelling a booked call -------------------------------------------------------

CHECK_SLOTS = ("check_reference", "check_secret")


class ActionStartBookingCheck(Action):
    """"Change my call" / "cancel my call": first a check that it is them."""

    def name(self) -> Text:
        return "action_start_booking_check"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        cleared = forget(tracker, CHECK_SLOTS)
        return cleared + [SlotSet("booking_action", "cancel" if intent == "cancel_booking" else "change"),
                          SlotSet("booking_to_change", None), SlotSet(REQUESTED, None)]


class ValidateBookingCheckForm(QuestionnaireValidation):
    form = "booking_check_form"
    questionnaire = CHECK

    def name(self) -> Text:
        return "validate_booking_check_form"

    def answers(self, tracker: Tracker) -> Dict[str, Any]:
        known = {"known_reference": bool(tracker.get_slot("booking_reference"))}
        return with_context({slot: tracker.get_slot(slot) for slot in CHECK.slots}, known)


class ActionCheckBooking(Action):
    """Finds the booking by reference and their word (never saying which was wrong), then asks
    to confirm a cancellation, or offers new times."""

    def name(self) -> Text:
        return "action_check_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        settings = settings_module.load()
        factory = session_factory(settings.database_url)
        reference = tracker.get_slot("check_reference")
        reference = reference if reference not in (None, SKIPPED) else tracker.get_slot("booking_reference")
        secret = tracker.get_slot("check_secret")
        cleared = forget(tracker, CHECK_SLOTS)
        try:
            view = await asyncio.to_thread(service.find_for_change, factory, reference=reference,
                                           secret=secret if secret != SKIPPED else None)
        except Exception as exc:
            logger.error("booking check failed: %s", type(exc).__name__)
            view = None
        if view is None:
            dispatcher.utter_message(response="utter_booking_check_failed")
            return cleared
        when = spoken_time(view.starts_at, language_of(tracker), settings)
        held = {"reference": view.reference, "language": view.needs.language, "officer_sex": view.needs.officer_sex,
                "ethnic_origin": view.needs.ethnic_origin, "safe_times": list(view.needs.safe_times),
                "first_contact_due": view.first_contact_due.isoformat() if view.first_contact_due else None}
        events = cleared + [SlotSet("booking_to_change", held)]
        if tracker.get_slot("booking_action") == "cancel":
            dispatcher.utter_message(response="utter_confirm_cancel_call", call_time=when, officer_name=view.officer_name)
            return events
        dispatcher.utter_message(response="utter_call_moving", call_time=when, officer_name=view.officer_name)
        return events + [SlotSet("call_time", None), SlotSet("call_offers", None), SlotSet(REQUESTED, None),
                         FollowupAction("reschedule_form")]


def _held_needs(held: Dict[str, Any]) -> Needs:
    return Needs(language=held["language"], officer_sex=held.get("officer_sex"),
                 ethnic_origin=held.get("ethnic_origin"), safe_times=tuple(held.get("safe_times") or ()))


class ValidateRescheduleForm(QuestionnaireValidation):
    form = "reschedule_form"
    questionnaire = RESCHEDULE

    def name(self) -> Text:
        return "validate_reschedule_form"

    def answers(self, tracker: Tracker) -> Dict[str, Any]:
        return {"call_time": tracker.get_slot("call_time")}

    def questionnaire_for(self, tracker: Tracker) -> Questionnaire:
        return offered_times(_labels(tracker), RESCHEDULE)

    async def after(self, step, tracker: Tracker, dispatcher: CollectingDispatcher) -> List[EventType]:
        held = tracker.get_slot("booking_to_change") or {}
        if step.next_slot != "call_time" or tracker.get_slot("call_offers") or not held:
            return []
        due = datetime.fromisoformat(held["first_contact_due"]) if held.get("first_contact_due") else None
        return await offer_times(step, dispatcher, _held_needs(held), due, first_call=False)


class ActionRescheduleCall(Action):
    def name(self) -> Text:
        return "action_reschedule_call"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        settings = settings_module.load()
        held = tracker.get_slot("booking_to_change") or {}
        chosen = tracker.get_slot("call_time")
        done = [SlotSet("call_time", None), SlotSet("call_offers", None)]
        if not held or chosen in (None, SKIPPED, NO_TIME_SUITS):
            dispatcher.utter_message(response="utter_call_kept")
            return done + [SlotSet("booking_to_change", None)]
        offer = _offer_from((tracker.get_slot("call_offers") or [])[int(chosen)])
        try:
            moved = await asyncio.to_thread(service.reschedule, session_factory(settings.database_url), settings,
                                            booking_reference=held["reference"], offer=offer)
        except service.SlotTaken:
            dispatcher.utter_message(response="utter_call_time_taken")
            return done + [FollowupAction("reschedule_form")]
        except Exception as exc:
            logger.error("call not moved: %s", type(exc).__name__)
            dispatcher.utter_message(response="utter_booking_failed")
            return done + [SlotSet("booking_to_change", None)]
        dispatcher.utter_message(response="utter_call_moved", call_time=spoken_time(moved.starts_at, language_of(tracker), settings),
                                 officer_name=moved.officer_name, booking_reference=moved.reference)
        return done + [SlotSet("booking_to_change", None), SlotSet("booking_reference", moved.reference)]


class ActionCancelCall(Action):
    def name(self) -> Text:
        return "action_cancel_call"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        settings = settings_module.load()
        held = tracker.get_slot("booking_to_change") or {}
        if not held:
            dispatcher.utter_message(response="utter_call_kept")
            return []
        try:
            await asyncio.to_thread(service.cancel, session_factory(settings.database_url), settings,
                                    booking_reference=held["reference"])
        except Exception as exc:
            logger.error("call not cancelled: %s", type(exc).__name__)
            dispatcher.utter_message(response="utter_booking_failed")
            return []
        dispatcher.utter_message(response="utter_call_cancelled")
        events: List[EventType] = [SlotSet("booking_to_change", None)]
        if tracker.get_slot("booking_reference") == held["reference"]:
            events += [SlotSet("booking_reference", None), SlotSet("booking_status", None)]
        return events
