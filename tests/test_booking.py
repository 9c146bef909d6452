"""Booking a call with an officer (bot/booking/), on SQLite and PostgreSQL: service hours and
bank holidays, free slots across the clock changes, who may be matched, booking with its
notifications, reminders, changes behind a secret word, and a race for one slot."""
from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from bot.booking import hours, service
from bot.booking.service import (
    BookingNotFound,
    SlotTaken,
    book,
    cancel,
    find_for_change,
    reschedule,
    unlock,
)
from bot.booking.slots import SPREAD, Needs, offers
from bot.i18n import spoken_time
from bot.models import Booking, Case, CaseEvent, Officer, OfficerLeave, OutboxMessage
from tests.test_cases import FULL, submit

LONDON = ZoneInfo("Europe/London")
SAFE_PHONE = "+447700900456"
SECRET = "Blue Heron"


def local(y, m, d, hh=0, mm=0) -> datetime:
    """A London wall-clock time, as aware UTC."""
    return datetime(y, m, d, hh, mm, tzinfo=LONDON).astimezone(timezone.utc)


def wall(moment: datetime) -> str:
    return moment.astimezone(LONDON).strftime("%a %d %b %H:%M")


def add_officer(factory, code, *, sex="female", languages=("en",), ethnic=None, pattern="mon-fri 09:00-17:00",
                active=True, on_call=False, contact=None) -> int:
    with factory() as s, s.begin():
        officer = Officer(code=code, name=f"{code.title()} Tester", sex=sex, languages=list(languages),
                          ethnic_origin=ethnic, working_pattern=hours.week_mapping(hours.parse_week(pattern)),
                          on_call=on_call, active=active, contact=contact or f"log:officer-{code}")
        s.add(officer)
        s.flush()
        return officer.id


def add_leave(factory, officer_id, starts_at, ends_at):
    with factory() as s, s.begin():
        s.add(OfficerLeave(officer_id=officer_id, starts_at=starts_at, ends_at=ends_at))


def free(factory, settings, needs, now, *, limit=200, due=None):
    with factory() as s:
        return offers(s, settings, needs, now=now, first_contact_due=due or now + timedelta(hours=24), limit=limit)


EN = Needs("en", None, None)


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch):
    """argon2 at its lightest, to keep the tests quick (production uses the library's defaults)."""
    monkeypatch.setattr(service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    service._decoy_hash.cache_clear()
    yield
    service._decoy_hash.cache_clear()


# --- Service hours and bank holidays (no database) -------------------------------------------------


def test_office_hours_are_read_from_the_setting_and_wrong_ones_are_refused():
    week = hours.parse_week_text("mon-fri 09:00-12:30, 13:30-17:00; sat 10:00 - 13:00")
    assert week[0] == ((540, 750), (810, 1020)) and week[5] == ((600, 780),) and week[6] == ()
    assert hours.parse_week_text("Monday,wed 9:00-17:00")[2] == ((540, 1020),)
    assert hours.parse_week({"tue": [["08:00", "24:00"]]})[1] == ((480, 1440),)
    for wrong in ("mon-fri", "xyz 09:00-10:00", "mon 10:00-09:00", "mon 09:00-12:00 11:00-13:00",
                  "fri-mon 09:00-10:00", "mon 24:30-25:00", ""):
        with pytest.raises(ValueError):
            hours.parse_week_text(wrong)
    settings = replace(_settings(), office_hours="mon-fri nine to five")
    with pytest.raises(ValueError, match="OFFICE_HOURS"):
        hours.is_open(local(2026, 11, 23, 10), settings)
    with pytest.raises(ValueError, match="BANK_HOLIDAYS"):
        hours.is_open(local(2026, 11, 23, 10), replace(_settings(), bank_holidays="wales"))


def _settings():
    from bot.settings import load

    return load()


def test_open_and_next_open_over_a_weekend_and_christmas():
    settings = _settings()
    assert hours.is_open(local(2026, 11, 20, 16, 59), settings)
    assert not hours.is_open(local(2026, 11, 20, 17, 0), settings)
    friday_evening = local(2026, 11, 20, 19)
    assert hours.next_open(friday_evening, settings) == local(2026, 11, 23, 9)
    assert hours.next_open(local(2026, 11, 23, 10), settings) == local(2026, 11, 23, 10)
    # Christmas Day is a Friday, Boxing Day a Saturday: Monday 28th is its substitute day.
    assert hours.next_open(local(2026, 12, 24, 17, 30), settings) == local(2026, 12, 29, 9)


def test_next_open_keeps_to_local_time_across_the_clock_changes():
    settings = _settings()
    # Clocks go forward on Sunday 29 March 2026: Monday 09:00 is 08:00 UTC.
    assert hours.next_open(local(2026, 3, 27, 18), settings) == datetime(2026, 3, 30, 8, 0, tzinfo=timezone.utc)
    # And back on Sunday 25 October 2026: Monday 09:00 is 09:00 UTC.
    assert hours.next_open(local(2026, 10, 23, 18), settings) == datetime(2026, 10, 26, 9, 0, tzinfo=timezone.utc)


def test_bank_holidays_are_those_of_the_configured_region():
    england, scotland = _settings(), replace(_settings(), bank_holidays="scotland")
    northern_ireland = replace(_settings(), bank_holidays="northern-ireland")
    st_andrews = date(2026, 11, 30)  # a Monday
    assert hours.is_bank_holiday(st_andrews, scotland) and not hours.is_bank_holiday(st_andrews, england)
    assert hours.is_bank_holiday(date(2026, 1, 2), scotland) and not hours.is_bank_holiday(date(2026, 1, 2), england)
    assert hours.is_bank_holiday(date(2026, 3, 17), northern_ireland)
    assert hours.is_open(local(2026, 11, 30, 10), england) and not hours.is_open(local(2026, 11, 30, 10), scotland)
    assert hours.next_open(local(2026, 11, 30, 10), scotland) == local(2026, 12, 1, 9)


def test_a_calls_time_reads_easily_in_the_persons_language():
    settings = _settings()
    assert spoken_time(local(2026, 11, 23, 10, 30), "en", settings) == "Monday 23 November at 10:30am"
    assert spoken_time(local(2026, 6, 1, 12), "en", settings) == "Monday 1 June at midday"
    assert spoken_time(local(2026, 6, 1, 14), "en", settings) == "Monday 1 June at 2pm"
    assert spoken_time(local(2026, 11, 23, 10, 30), "pl", settings) == "poniedziałek, 23 listopada o 10:30"
    assert spoken_time(local(2026, 11, 23, 10, 30), "cy", settings) == "Dydd Llun 23 Tachwedd am 10:30"
    for language in ("ur", "ar", "bn", "pa", "ro", "pt", "es"):
        assert "23" in spoken_time(local(2026, 11, 23, 10, 30), language, settings)


def test_needs_are_checked():
    assert Needs("pl", "female", None, ("evening", "any")).safe_times == ()
    for args in (("xx", None, None), ("pl", "woman", None), ("pl", None, "british"), ("pl", None, None, ("night",))):
        with pytest.raises(ValueError):
            Needs(*args)


# --- Free slots --------------------------------------------------------------------------------------------


def test_slots_keep_to_the_working_pattern_when_the_clocks_go_forward(factory, settings):
    add_officer(factory, "early", pattern="mon-fri 09:00-10:00")
    now = local(2026, 3, 26, 6)  # Thursday; clocks go forward on Sunday 29 March
    starts = [o.starts_at for o in free(factory, replace(settings, booking_horizon_days=5), EN, now)]
    assert [wall(t) for t in starts] == ["Thu 26 Mar 09:00", "Thu 26 Mar 09:30", "Fri 27 Mar 09:00",
                                         "Fri 27 Mar 09:30", "Mon 30 Mar 09:00", "Mon 30 Mar 09:30"]
    assert starts[0].hour == 9 and starts[4].hour == 8  # 09:00 GMT, then 09:00 BST = 08:00 UTC


def test_slots_keep_to_the_working_pattern_when_the_clocks_go_back(factory, settings):
    add_officer(factory, "early", pattern="mon-fri 09:00-10:00")
    now = local(2026, 10, 23, 6)  # Friday; clocks go back on Sunday 25 October
    starts = [o.starts_at for o in free(factory, replace(settings, booking_horizon_days=4), EN, now)]
    assert [(wall(t), t.hour) for t in starts] == [("Fri 23 Oct 09:00", 8), ("Fri 23 Oct 09:30", 8),
                                                   ("Mon 26 Oct 09:00", 9), ("Mon 26 Oct 09:30", 9)]


def test_a_night_shift_on_the_night_the_clocks_change(factory, settings):
    add_officer(factory, "night", pattern="sun 00:30-03:00")
    spring = free(factory, replace(settings, booking_horizon_days=2), EN, local(2026, 3, 28, 12))
    # 01:00-02:00 does not exist that night: 00:30 GMT, then 02:00 and 02:30 BST.
    assert [o.starts_at.strftime("%H:%M") for o in spring] == ["00:30", "01:00", "01:30"]
    assert [wall(o.starts_at)[-5:] for o in spring] == ["00:30", "02:00", "02:30"]
    autumn = free(factory, replace(settings, booking_horizon_days=2), EN, local(2026, 10, 24, 12))
    # 01:00-02:00 happens twice: calls in the first of them, then from 02:00 GMT.
    assert [o.starts_at.strftime("%d %H:%M") for o in autumn] == ["24 23:30", "25 00:00", "25 00:30", "25 02:00",
                                                                 "25 02:30"]


def test_no_calls_on_a_bank_holiday_of_the_region(factory, settings):
    add_officer(factory, "one", pattern="mon-fri 09:00-10:00")
    now = local(2026, 11, 29, 12)  # Sunday; Monday 30 November is St Andrew's Day
    short = replace(settings, booking_horizon_days=2)
    england = [wall(o.starts_at) for o in free(factory, short, EN, now)]
    scotland = [wall(o.starts_at) for o in free(factory, replace(short, bank_holidays="scotland"), EN, now)]
    assert england == ["Mon 30 Nov 09:00", "Mon 30 Nov 09:30", "Tue 01 Dec 09:00", "Tue 01 Dec 09:30"]
    assert scotland == ["Tue 01 Dec 09:00", "Tue 01 Dec 09:30"]


def test_a_friday_evening_report_is_offered_monday_and_told_it_is_outside_the_standard(factory, settings):
    add_officer(factory, "anna", languages=("en", "pl"))
    add_officer(factory, "beth")
    now = local(2026, 11, 20, 19)  # Friday evening
    first = free(factory, settings, Needs("pl", "female", None), now, limit=4, due=now + timedelta(hours=24))
    assert wall(first[0].starts_at) == "Mon 23 Nov 09:00"
    assert len(first) == 4 and not any(o.within_first_contact for o in first)
    assert all(o.officer_name == "Anna" and o.interpreter is None for o in first)
    monday = local(2026, 11, 23, 10)
    soon = free(factory, settings, Needs("pl", "female", None), monday, limit=4, due=monday + timedelta(hours=24))
    assert wall(soon[0].starts_at) == "Mon 23 Nov 11:00" and all(o.within_first_contact for o in soon)


def test_notice_grid_and_horizon(factory, settings):
    add_officer(factory, "one")
    now = local(2026, 11, 23, 10, 7)
    got = free(factory, replace(settings, booking_horizon_days=1), EN, now)
    assert wall(got[0].starts_at) == "Mon 23 Nov 11:30"  # an hour's notice, then the next half hour
    assert all(o.starts_at.minute in (0, 30) and o.ends_at - o.starts_at == timedelta(minutes=30) for o in got)
    assert max(o.starts_at for o in got) < now + timedelta(days=1)


def test_leave_and_booked_calls_are_not_offered(factory, settings):
    one = add_officer(factory, "one", pattern="mon-fri 09:00-11:00")
    now = local(2026, 11, 22, 12)  # Sunday
    add_leave(factory, one, local(2026, 11, 23, 0), local(2026, 11, 24, 0))  # Monday off
    with factory() as s, s.begin():
        s.add(Booking(reference="AAA-AAA-AAA", conversation_id="c", officer_id=one, starts_at=local(2026, 11, 24, 9),
                      ends_at=local(2026, 11, 24, 9, 30), contact_method="phone", update_frequency="weekly",
                      language="en"))
        s.add(Booking(reference="AAA-AAA-AAC", conversation_id="c", officer_id=one, starts_at=local(2026, 11, 24, 10),
                      ends_at=local(2026, 11, 24, 10, 30), status="cancelled", contact_method="phone",
                      update_frequency="weekly", language="en"))
    got = [wall(o.starts_at) for o in free(factory, replace(settings, booking_horizon_days=2), EN, now)]
    assert got == ["Tue 24 Nov 09:30", "Tue 24 Nov 10:00", "Tue 24 Nov 10:30"]


def test_a_woman_asked_for_and_none_free_gives_no_offer_never_a_man(factory, settings):
    add_officer(factory, "mike", sex="male", languages=("en", "pl"))
    add_officer(factory, "gone", sex="female", active=False)
    away = add_officer(factory, "away", sex="female")
    now = local(2026, 11, 20, 19)
    add_leave(factory, away, now, now + timedelta(days=30))
    assert free(factory, settings, Needs("pl", "female", None), now, limit=4) == []
    assert {o.officer_name for o in free(factory, settings, Needs("pl", None, None), now, limit=4)} == {"Mike"}


def test_the_sex_asked_for_holds_even_when_the_others_are_sooner(factory, settings):
    add_officer(factory, "mike", sex="male", languages=("en", "ur"))
    add_officer(factory, "wendy", sex="female", pattern="wed 14:00-15:00")
    now = local(2026, 11, 22, 12)
    got = free(factory, settings, Needs("ur", "female", None), now, limit=4)
    assert {o.officer_name for o in got} == {"Wendy"} and all(o.interpreter == "ur" for o in got)
    assert wall(got[0].starts_at) == "Wed 25 Nov 14:00"


def test_an_interpreter_when_no_officer_speaks_the_language(factory, settings):
    add_officer(factory, "one", languages=("en", "pl"))
    got = free(factory, settings, Needs("bn", None, None), local(2026, 11, 22, 12), limit=4)
    assert len(got) == 4 and all(o.interpreter == "bn" for o in got)
    english = free(factory, settings, EN, local(2026, 11, 22, 12), limit=1)
    assert english[0].interpreter is None  # every officer speaks English


def test_british_sign_language(factory, settings):
    add_officer(factory, "hear", pattern="mon-fri 09:00-12:00")
    add_officer(factory, "sign", languages=("en", "bsl"), pattern="mon-fri 13:00-17:00")
    got = free(factory, settings, Needs("bsl", None, None), local(2026, 11, 22, 12), limit=4)
    signers = [o for o in got if o.officer_name == "Sign"]
    assert signers and all(o.interpreter is None for o in signers)
    assert all(o.interpreter == "bsl" for o in got if o.officer_name == "Hear")


def test_an_officer_who_speaks_the_language_is_offered_even_when_only_free_later(factory, settings):
    add_officer(factory, "any")
    add_officer(factory, "urdu", languages=("en", "ur"), pattern="thu 14:00-15:00")
    now = local(2026, 11, 22, 12)
    got = free(factory, settings, Needs("ur", None, None), now, limit=4)
    assert len(got) == 4 and got == sorted(got, key=lambda o: o.starts_at)
    assert wall(got[0].starts_at) == "Mon 23 Nov 09:00" and got[0].interpreter == "ur"
    assert (wall(got[-1].starts_at), got[-1].officer_name, got[-1].interpreter) == ("Thu 26 Nov 14:00", "Urdu", None)


def test_at_the_same_time_the_officer_who_speaks_the_language_is_chosen(factory, settings):
    for code in ("aaa", "bbb", "ccc"):
        add_officer(factory, code)
    add_officer(factory, "pola", languages=("en", "pl"))
    got = free(factory, settings, Needs("pl", None, None), local(2026, 11, 22, 12), limit=4)
    assert all(o.officer_name == "Pola" and o.interpreter is None for o in got)


def test_ethnic_origin_is_preferred_where_available_never_required(factory, settings):
    add_officer(factory, "white", ethnic="white")
    add_officer(factory, "black", ethnic="black")
    now = local(2026, 11, 22, 12)
    got = free(factory, settings, Needs("en", None, "black"), now, limit=4)
    assert all(o.officer_name == "Black" and o.same_ethnic_origin for o in got)
    none_match = free(factory, settings, Needs("en", None, "asian"), now, limit=4)
    assert len(none_match) == 4 and not any(o.same_ethnic_origin for o in none_match)


def test_offers_are_at_distinct_times_spread_out_with_the_least_busy_officer(factory, settings):
    for code in ("aaa", "bbb", "ccc", "ddd", "eee"):
        add_officer(factory, code)
    now = local(2026, 11, 22, 12)
    got = free(factory, settings, EN, now, limit=4)
    times = [o.starts_at for o in got]
    assert len(set(times)) == 4 and all(b - a >= SPREAD for a, b in zip(times, times[1:]))
    assert wall(times[0]) == "Mon 23 Nov 09:00"
    book_it(factory, settings, got[0], EN, now=now, reminders_ok=False, secret=None)
    after = free(factory, settings, EN, now, limit=4)
    assert after[0].starts_at == got[0].starts_at and after[0].officer_name == "Bbb"  # the next free at 09:00
    assert all(o.officer_name != "Aaa" for o in after)  # the calls go to those with fewer


def test_only_at_times_they_said_are_safe(factory, settings):
    add_officer(factory, "day")
    add_officer(factory, "late", pattern="tue-fri 12:00-20:00; sat 10:00-14:00")
    got = free(factory, settings, Needs("en", None, None, ("evening",)), local(2026, 11, 22, 12), limit=4)
    assert got and all(o.officer_name == "Late" and o.starts_at.astimezone(LONDON).hour >= 17 for o in got)


# --- Booking ---------------------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 21, 22, 30, tzinfo=timezone.utc)  # when tests.test_cases submits its report


def first_offer(factory, settings, needs, now=NOW, index=0):
    return free(factory, settings, needs, now, limit=4)[index]


def book_it(factory, settings, offer, needs, *, conversation="conv-1", case_reference=None, reminders_ok=True,
            phone=SAFE_PHONE, secret=SECRET, now=NOW, **kw):
    return book(factory, settings, case_reference=case_reference, conversation_id=conversation, offer=offer,
                needs=needs, contact_method=kw.pop("contact_method", "phone"), phone=phone,
                voicemail_ok=kw.pop("voicemail_ok", False), reminders_ok=reminders_ok,
                update_frequency=kw.pop("update_frequency", "weekly"), secret=secret, now=now, **kw)


def outbox(factory, topic=None):
    with factory() as s:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if topic:
            query = query.where(OutboxMessage.topic == topic)
        return s.execute(query).scalars().all()


def test_a_booking_tells_the_officer_what_is_needed_never_what_was_reported(factory, settings):
    case = submit(factory, settings)
    add_officer(factory, "wendy", languages=("en",), contact="email:wendy@example.org")
    needs = Needs("pl", "female", "white")
    offer = first_offer(factory, settings, needs)
    booked = book_it(factory, settings, offer, needs, case_reference=case.reference)
    assert (booked.officer_name, booked.interpreter, booked.starts_at) == ("Wendy", "pl", offer.starts_at)
    with factory() as s:
        row = s.execute(select(Booking)).scalar_one()
        assert (row.status, row.phone, row.interpreter, row.officer_sex_requested) == ("booked", SAFE_PHONE, "pl", "female")
        assert row.case.reference == case.reference and row.secret_hash.startswith("$argon2")
        event = s.execute(select(CaseEvent).where(CaseEvent.action == "call_booked")).scalar_one()
        assert event.details["booking"] == booked.reference and event.details["interpreter"] == "pl"
        assert SAFE_PHONE not in str(event.details)
    (message,) = outbox(factory, service.TOPIC)
    assert (message.transport, message.recipient, message.status) == ("email", "wendy@example.org", "pending")
    body = message.body
    for needed in (booked.reference, case.reference, "Polish interpreter", "same sex: yes",
                   "same ethnic origin: yes (none was free)", "do NOT leave a voicemail", "UTC", "GMT"):
        assert needed in body
    for private in (FULL["description"], "racist", FULL["contact"]["phone"], SAFE_PHONE, SECRET, "Sam"):
        assert private not in body


def test_a_bsl_booking_asks_the_officer_for_a_signer(factory, settings):
    add_officer(factory, "hear")
    needs = Needs("bsl", None, None)
    book_it(factory, settings, first_offer(factory, settings, needs), needs, reminders_ok=False)
    assert "British Sign Language (BSL) interpreter" in outbox(factory, service.TOPIC)[0].body


def test_a_reminder_only_when_texts_to_that_number_are_safe(factory, settings):
    add_officer(factory, "wendy")
    offers_ = free(factory, settings, EN, NOW, limit=3)
    quiet = book_it(factory, settings, offers_[0], EN, conversation="a", reminders_ok=False)
    no_phone = book_it(factory, settings, offers_[1], EN, conversation="b", phone=None, contact_method="video")
    wanted = book_it(factory, settings, offers_[2], EN, conversation="c")
    assert quiet.reminder_at is None and no_phone.reminder_at is None
    assert wanted.reminder_at == offers_[2].starts_at - timedelta(hours=2)
    (reminder,) = outbox(factory, service.REMINDER_TOPIC)
    assert (reminder.transport, reminder.recipient, reminder.next_attempt_at) == ("sms", SAFE_PHONE, wanted.reminder_at)
    assert reminder.body == (f"Reminder: your appointment with Wendy is on {spoken_time(offers_[2].starts_at, 'en', settings)}."
                             " Reply STOP to opt out.")
    for telling in ("hate", "harass", "housing", "report", "case", wanted.reference):
        assert telling not in reminder.body.lower()


def test_a_taken_slot_is_refused_and_a_retried_booking_finds_its_own(factory, settings):
    add_officer(factory, "wendy")
    offer = first_offer(factory, settings, EN)
    first = book_it(factory, settings, offer, EN, conversation="a")
    again = book_it(factory, settings, offer, EN, conversation="a")
    assert again.reference == first.reference and not again.created
    with pytest.raises(SlotTaken):
        book_it(factory, settings, offer, EN, conversation="b")
    with pytest.raises(ValueError):  # a woman was asked for: this offer is not theirs to take
        add_officer(factory, "mike", sex="male")
        man = [o for o in free(factory, settings, EN, NOW) if o.officer_name == "Mike"][0]
        book_it(factory, settings, man, Needs("en", "female", None), conversation="c")
    with factory() as s:
        assert s.execute(select(func.count(Booking.id))).scalar_one() == 1
    assert len(outbox(factory, service.TOPIC)) == 1


def test_an_offer_no_longer_possible_is_refused(factory, settings):
    wendy = add_officer(factory, "wendy")
    offer = first_offer(factory, settings, EN)
    add_leave(factory, wendy, offer.starts_at, offer.ends_at)
    with pytest.raises(SlotTaken):
        book_it(factory, settings, offer, EN)
    off_grid = replace(first_offer(factory, settings, EN, index=1), starts_at=offer.starts_at + timedelta(days=1, minutes=7))
    with pytest.raises(SlotTaken):
        book_it(factory, settings, off_grid, EN)


def test_the_database_refuses_a_second_booked_call_at_one_time(factory, settings):
    wendy = add_officer(factory, "wendy")
    start = local(2026, 11, 23, 9)

    def row(ref, status="booked"):
        return Booking(reference=ref, conversation_id="c", officer_id=wendy, starts_at=start,
                       ends_at=start + timedelta(minutes=30), status=status, contact_method="phone",
                       update_frequency="weekly", language="en")

    with factory() as s, s.begin():
        s.add_all([row("AAA-AAA-AAA"), row("AAA-AAA-AAC", "cancelled"), row("AAA-AAA-AAD", "cancelled")])
    with pytest.raises(IntegrityError):
        with factory() as s, s.begin():
            s.add(row("AAA-AAA-AAE"))


@pytest.mark.parametrize("checks", ["as they are", "all passed before any insert"])
def test_many_people_racing_for_one_slot_one_wins(factory, settings, checks, monkeypatch):
    contenders = 12
    add_officer(factory, "wendy")
    offer = first_offer(factory, settings, EN)
    gate = threading.Barrier(contenders)
    if checks != "as they are":
        # Every contender has found the slot free before any of them writes: only the
        # database's unique index is left to decide.
        checked = threading.Barrier(contenders)
        monkeypatch.setattr(service, "is_free", lambda *a, **k: checked.wait(30) is not None)
    results: list = [None] * contenders

    def contend(i):
        gate.wait()
        try:
            results[i] = book_it(factory, settings, offer, EN, conversation=f"racer-{i}", secret=None)
        except SlotTaken as exc:
            results[i] = exc

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    winners = [r for r in results if isinstance(r, service.Booked)]
    assert len(winners) == 1 and sum(isinstance(r, SlotTaken) for r in results) == contenders - 1
    with factory() as s:
        assert s.execute(select(func.count(Booking.id))).scalar_one() == 1
    assert len(outbox(factory, service.TOPIC)) == 1


# --- Changing and cancelling ----------------------------------------------------------------------------------


def test_cancel_frees_the_slot_withdraws_the_reminder_and_tells_the_officer(factory, settings):
    case = submit(factory, settings)
    add_officer(factory, "wendy")
    offer = first_offer(factory, settings, EN)
    booked = book_it(factory, settings, offer, EN, case_reference=case.reference)
    assert cancel(factory, settings, booking_reference=booked.reference, now=NOW) is True
    assert cancel(factory, settings, booking_reference=booked.reference, now=NOW) is False
    with pytest.raises(BookingNotFound):
        cancel(factory, settings, booking_reference="AAA-AAA-AAA", now=NOW)
    (reminder,) = outbox(factory, service.REMINDER_TOPIC)
    assert reminder.status == "cancelled"
    told = [m.body for m in outbox(factory, service.TOPIC)]
    assert len(told) == 2 and told[1].startswith(f"Call cancelled: {booked.reference}")
    assert free(factory, settings, EN, NOW, limit=1)[0].starts_at == offer.starts_at
    with factory() as s:
        assert s.execute(select(Booking.status)).scalar_one() == "cancelled"
        assert s.execute(select(CaseEvent).where(CaseEvent.action == "call_cancelled")).scalar_one()
    again = book_it(factory, settings, offer, EN, conversation="someone-else")
    assert again.reference != booked.reference


def test_reschedule_moves_the_call_and_its_reminder_at_once(factory, settings):
    add_officer(factory, "wendy")
    first, second, third = free(factory, settings, EN, NOW, limit=3)
    booked = book_it(factory, settings, first, EN)
    other = book_it(factory, settings, third, EN, conversation="other")
    moved = reschedule(factory, settings, booking_reference=booked.reference, offer=second, now=NOW)
    assert (moved.reference, moved.starts_at, moved.reminder_at) == (booked.reference, second.starts_at,
                                                                   second.starts_at - timedelta(hours=2))
    reminders = outbox(factory, service.REMINDER_TOPIC)
    assert [(r.status, r.next_attempt_at) for r in reminders] == [
        ("cancelled", first.starts_at - timedelta(hours=2)), ("pending", third.starts_at - timedelta(hours=2)),
        ("pending", second.starts_at - timedelta(hours=2))]
    assert outbox(factory, service.TOPIC)[-1].body.startswith(f"Call moved: {booked.reference}")
    # The old slot is free again; a taken one is refused and nothing changes.
    assert first.starts_at in [o.starts_at for o in free(factory, settings, EN, NOW)]
    with pytest.raises(SlotTaken):
        reschedule(factory, settings, booking_reference=booked.reference, offer=third, now=NOW)
    with factory() as s:
        row = s.execute(select(Booking).where(Booking.reference == booked.reference)).scalar_one()
        assert (row.starts_at, row.revision) == (second.starts_at, 2)
    assert reschedule(factory, settings, booking_reference=booked.reference, offer=second, now=NOW).created is False
    assert other.reference


def test_reschedule_to_a_colleague_tells_both(factory, settings):
    add_officer(factory, "wendy", contact="log:wendy")
    add_officer(factory, "pola", languages=("en", "pl"), pattern="thu 10:00-11:00", contact="log:pola")
    needs = Needs("pl", None, None)
    wendy_slot = [o for o in free(factory, settings, needs, NOW) if o.officer_name == "Wendy"][0]
    pola_slot = [o for o in free(factory, settings, needs, NOW) if o.officer_name == "Pola"][0]
    booked = book_it(factory, settings, wendy_slot, needs, reminders_ok=False)
    assert booked.interpreter == "pl"
    moved = reschedule(factory, settings, booking_reference=booked.reference, offer=pola_slot, now=NOW)
    assert (moved.officer_name, moved.interpreter) == ("Pola", None)
    told = {(m.recipient, m.subject.split(":")[0]) for m in outbox(factory, service.TOPIC)}
    assert told == {("wendy", "Call booked with you"), ("wendy", "Call moved to a colleague"),
                    ("pola", "Call booked with you")}


def test_find_for_change_by_booking_or_case_reference_with_the_secret_word(factory, settings):
    case = submit(factory, settings)
    add_officer(factory, "wendy")
    needs = Needs("pl", "female", None)
    booked = book_it(factory, settings, first_offer(factory, settings, needs), needs, case_reference=case.reference)
    by_booking = find_for_change(factory, reference=booked.reference.lower().replace("-", " "), secret=" blue  HERON ",
                                 now=NOW)
    assert by_booking is not None and by_booking.reference == booked.reference and by_booking.needs == needs
    assert by_booking.case_reference == case.reference and by_booking.first_contact_due == NOW + timedelta(hours=24)
    assert find_for_change(factory, reference=case.reference, secret=SECRET, now=NOW).reference == booked.reference
    with factory() as s, s.begin():
        s.execute(update(Case).values(safe_times=["evening", "morning"]))
    assert find_for_change(factory, reference=case.reference, secret=SECRET, now=NOW).needs == replace(
        needs, safe_times=("evening", "morning"))  # to offer other times by
    for wrong in [("AAA-AAA-AAA", SECRET), (booked.reference, ""), (booked.reference, None), ("nonsense", SECRET)]:
        assert find_for_change(factory, reference=wrong[0], secret=wrong[1], now=NOW) is None
    after_the_call = booked.ends_at + timedelta(minutes=1)
    assert find_for_change(factory, reference=booked.reference, secret=SECRET, now=after_the_call) is None
    cancel(factory, settings, booking_reference=booked.reference, now=NOW)
    assert find_for_change(factory, reference=booked.reference, secret=SECRET, now=NOW) is None


def test_wrong_words_lock_the_booking_and_the_officer_is_told(factory, settings):
    add_officer(factory, "wendy")
    booked = book_it(factory, settings, first_offer(factory, settings, EN), EN)
    for _ in range(3):
        assert find_for_change(factory, reference=booked.reference, secret="guess", now=NOW) is None
    assert find_for_change(factory, reference=booked.reference, secret=SECRET, now=NOW) is not None  # count reset
    for _ in range(service.MAX_FAILED_CHECKS):
        assert find_for_change(factory, reference=booked.reference, secret="guess", now=NOW) is None
    assert find_for_change(factory, reference=booked.reference, secret=SECRET, now=NOW) is None  # locked
    locked = [m for m in outbox(factory, service.TOPIC) if m.subject.startswith("Booking locked")]
    assert len(locked) == 1 and SECRET not in locked[0].body
    unlock(factory, booking_reference=booked.reference, officer="officer:wendy", now=NOW)
    assert find_for_change(factory, reference=booked.reference, secret=SECRET, now=NOW) is not None


def test_simultaneous_guesses_cannot_pass_the_limit(factory, settings):
    add_officer(factory, "wendy")
    booked = book_it(factory, settings, first_offer(factory, settings, EN), EN)
    gate = threading.Barrier(8)

    def guess(i):
        gate.wait()
        find_for_change(factory, reference=booked.reference, secret=f"guess {i}", now=NOW)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with factory() as s:
        assert s.execute(select(Booking.failed_checks)).scalar_one() == service.MAX_FAILED_CHECKS
    assert find_for_change(factory, reference=booked.reference, secret=SECRET, now=NOW) is None


def test_a_call_booked_before_the_report_joins_the_case(factory, settings):
    add_officer(factory, "wendy")
    booked = book_it(factory, settings, first_offer(factory, settings, EN), EN, reminders_ok=False)
    assert "none yet" in outbox(factory, service.TOPIC)[0].body
    case = submit(factory, settings)  # the same conversation, "conv-1"
    assert service.attach_case(factory, conversation_id="conv-1", case_reference=case.reference,
                               now=NOW) == [booked.reference]
    assert service.attach_case(factory, conversation_id="conv-1", case_reference=case.reference,
                               now=NOW) == []
    with pytest.raises(ValueError):
        service.attach_case(factory, conversation_id="another", case_reference=case.reference, now=NOW)
    with factory() as s:
        assert s.execute(select(Booking)).scalar_one().case_id is not None
        assert s.execute(select(CaseEvent).where(CaseEvent.action == "call_booked")).scalar_one()
    assert outbox(factory, service.TOPIC)[-1].subject == f"Call {booked.reference}: now with case {case.reference}"


def test_out_of_hours_says_when_the_office_opens(settings):
    from datetime import datetime, timezone

    from bot.booking.hours import opens_later

    friday_night = datetime(2026, 11, 20, 22, 0, tzinfo=timezone.utc)  # 22:00 in London
    monday_morning = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    assert opens_later(friday_night, settings) == monday_morning
    assert opens_later(datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc), settings) is None


def test_out_of_hours_never_promises_a_contact_time_the_office_cannot_keep():
    from datetime import datetime, timedelta, timezone

    from bot.booking.hours import steps_out_of_hours

    now = datetime(2026, 11, 20, 22, 0, tzinfo=timezone.utc)  # Friday night
    steps = ["first_contact", "graffiti", "come_back"]
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    assert steps_out_of_hours(steps, monday, now + timedelta(hours=24)) == ["out_of_hours", "graffiti", "come_back"]
    tuesday_night = datetime(2026, 11, 17, 22, 0, tzinfo=timezone.utc)
    wednesday = datetime(2026, 11, 18, 9, 0, tzinfo=timezone.utc)
    assert steps_out_of_hours(steps, wednesday, tuesday_night + timedelta(hours=24)) == ["out_of_hours", *steps]
    assert steps_out_of_hours(steps, None, now) == steps
    # Anonymous (or no contact details): still told the office is closed, and keeps its step, whose time is
    # then the opening, never a time before it.
    assert steps_out_of_hours(["anonymous", "come_back"], monday, now) == ["out_of_hours", "anonymous", "come_back"]
    from bot.booking.hours import told_by

    assert told_by(monday, now + timedelta(hours=24)) == monday
    assert told_by(wednesday, tuesday_night + timedelta(hours=24)) == tuesday_night + timedelta(hours=24)
    assert told_by(None, now) == now
