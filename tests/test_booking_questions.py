"""The questions before booking a call: what is asked, and what is not asked again."""
from bot.booking.questions import BOOKING, NO_TIME_SUITS, offered_times, with_context


def asked(answers, context=None):
    return BOOKING.required_slots(with_context(answers, context or {}))


def test_a_phone_call_with_nothing_known_asks_for_the_number_voicemail_and_safe_times():
    slots = asked({"call_method": "phone"})
    assert slots[:4] == ["call_method", "call_phone", "call_voicemail", "officer_sex"]
    assert "call_safe_times" in slots and "call_use_known_phone" not in slots


def test_what_the_safety_check_knows_is_not_asked_again():
    known = {"known_phone": True, "known_voicemail": False, "known_safe_times": True}
    slots = asked({"call_method": "phone"}, known)
    assert "call_use_known_phone" in slots
    assert not {"call_phone", "call_voicemail", "call_safe_times"} & set(slots)
    # they would rather use another number: then it is asked
    assert "call_phone" in asked({"call_method": "phone", "call_use_known_phone": "no"}, known)


def test_in_person_needs_no_number_and_texts_need_no_safe_times():
    assert not {"call_phone", "call_voicemail", "call_reminder"} & set(asked({"call_method": "in_person"}))
    assert "call_safe_times" not in asked({"call_method": "sms"})


def test_a_reminder_is_asked_only_when_there_is_a_number_to_text():
    assert "call_reminder" not in asked({"call_method": "phone"})
    assert "call_reminder" in asked({"call_method": "phone", "call_phone": {"phone": "+447700900123"}})


def test_the_time_question_offers_the_times_found_and_none_of_these():
    question = offered_times(["Monday 23 November at 10:30am, Anna"]).by_slot["call_time"]
    assert [o.value for o in question.options] == ["0", NO_TIME_SUITS]
