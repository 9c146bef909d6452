"""Referrals and actions a case raises: one table of rules, applied whenever the case changes.

Each rule says when it applies, on what basis information may leave the landlord
(consent, a duty to disclose with its reason, or the landlord's own policy for
internal actions), when it is due, and who is notified. ``raise_referrals`` adds the
ones a case now needs (one of each kind per case, so applying the rules again is
safe) and writes each notification to the outbox in the same transaction.

Policy:
- Karbon 3.3.3: information goes to other agencies only with permission, unless
  there is a duty to disclose to protect the victim, prevent harm to someone else, or
  prevent or detect a crime; Karbon 3.6.1: the police are told of every incident
  with the victim's consent.
- Karbon 3.3.8, Karin 4.23: immediate and substantial risk at home: advice, and a
  referral to the local authority (temporary accommodation under the Housing Act
  1996 / Homelessness Act 2002) and the police.
- Karbon 3.4.3: safeguarding referrals where a child or an adult is at risk.
- Karin 4.22: management transfer considered after a physical assault or a
  life-endangering incident, or where they can no longer live in the home.
- Karbon 3.3.5-3.3.7, Karin 4.17: security measures offered.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping, Optional

from sqlalchemy.orm import Session

from bot import outbox
from bot.models import Case, CaseEvent, Referral
from bot.settings import Settings

# Reasons for disclosing without consent (Karbon 3.3.3), as recorded and as told.
PROTECT_VICTIM = "protect_victim"
PREVENT_HARM_TO_OTHERS = "prevent_harm_to_others"
PREVENT_CRIME = "prevent_or_detect_crime"
DUTY_REASONS = (PROTECT_VICTIM, PREVENT_HARM_TO_OTHERS, PREVENT_CRIME)

LIFE_ENDANGERING = ("risk_threat_to_kill", "risk_weapon", "risk_strangulation")


def _has(value: Any, *wanted: str) -> bool:
    values = value if isinstance(value, (list, tuple, set)) else [value]
    return any(v in wanted for v in values)


@dataclass(frozen=True)
class Facts:
    """What the rules look at: the case, its safety check, and its consents."""

    immediate_risk: bool = False
    level: Optional[str] = None
    answers: Mapping[str, Any] = field(default_factory=dict)  # the report's and the check's answers
    consent_police: bool = False
    consent_agencies: bool = False

    def answer(self, slot: str) -> Any:
        return self.answers.get(slot)

    @property
    def high(self) -> bool:
        return self.immediate_risk or self.level == "high"

    @property
    def at_home(self) -> bool:
        """The harm reaches them at home: it happened there, the person knows where they
        live, or they do not feel safe there tonight."""
        return (
            self.answer("location") == "home"
            or self.answer("risk_knows_address") == "yes"
            or self.answer("risk_safe_tonight") == "no"
        )

    @property
    def children_at_risk(self) -> bool:
        return _has(self.answer("vulnerable"), "children") or _has(self.answer("risk_targets"), "children")

    @property
    def adult_at_risk(self) -> bool:
        return _has(self.answer("vulnerable"), "vulnerable_adult")

    @property
    def violent(self) -> bool:
        return (
            _has(self.answer("incident_type"), "violence")
            or self.answer("risk_injured") == "yes"
            or any(self.answer(s) == "yes" for s in LIFE_ENDANGERING)
        )


@dataclass(frozen=True)
class Decision:
    basis: str  # consent | duty_to_disclose | policy
    reason: str  # a code: why it applies, or why it is disclosed without consent


@dataclass(frozen=True)
class ReferralRule:
    kind: str
    label: str  # in notifications and on the officer's screen
    decide: Callable[[Facts], Optional[Decision]]
    due: Callable[[Facts, Settings], timedelta]
    contact: Callable[[Settings], str]  # "<transport>:<recipient>"


def _now(facts: Facts, settings: Settings) -> timedelta:
    return timedelta(0)


def _at_once_if_high(facts: Facts, settings: Settings) -> timedelta:
    return timedelta(0) if facts.high else timedelta(hours=settings.first_contact_hours)


def _with_first_contact(facts: Facts, settings: Settings) -> timedelta:
    return timedelta(hours=settings.first_contact_hours)


def _police(facts: Facts) -> Optional[Decision]:
    if facts.consent_police:
        return Decision("consent", "reported_with_consent")  # Karbon 3.6.1: every incident, with consent
    if facts.high:
        return Decision("duty_to_disclose", PROTECT_VICTIM)
    if facts.children_at_risk and facts.level == "medium":
        return Decision("duty_to_disclose", PREVENT_HARM_TO_OTHERS)
    return None  # no consent and no duty: the police are not told (the case records why)


def _local_authority(facts: Facts) -> Optional[Decision]:
    if not (facts.high and facts.at_home):
        return None
    if facts.consent_agencies:
        return Decision("consent", "immediate_risk_at_home")
    return Decision("duty_to_disclose", PROTECT_VICTIM)


def _safeguarding(facts: Facts) -> Optional[Decision]:
    if not (facts.children_at_risk or facts.adult_at_risk):
        return None
    reason = "child_at_risk" if facts.children_at_risk else "adult_at_risk"
    if facts.consent_agencies:
        return Decision("consent", reason)
    if facts.high or facts.level == "medium":
        # At medium risk or above, safeguarding a child or an adult at risk is a duty whatever
        # the consent; below it, the officer judges with the person (the case records why).
        return Decision("duty_to_disclose", PREVENT_HARM_TO_OTHERS if facts.children_at_risk else PROTECT_VICTIM)
    return None


def _management_transfer(facts: Facts) -> Optional[Decision]:
    if facts.answer("risk_injured") == "yes":
        return Decision("policy", "physical_assault")
    if facts.immediate_risk or any(facts.answer(s) == "yes" for s in LIFE_ENDANGERING):
        return Decision("policy", "life_endangering")
    if facts.answer("risk_safe_tonight") == "no":
        return Decision("policy", "cannot_stay_at_home")
    return None


def _security_measures(facts: Facts) -> Optional[Decision]:
    if not facts.at_home:
        return None
    if facts.answer("home_insecure") == "yes":
        return Decision("policy", "home_insecure")
    if facts.high or facts.level == "medium":
        return Decision("policy", f"risk_{'high' if facts.high else 'medium'}_at_home")
    if _has(facts.answer("risk_targets"), "property"):
        return Decision("policy", "home_targeted")
    return None


def _on_call(facts: Facts) -> Optional[Decision]:
    return Decision("policy", "immediate_risk") if facts.immediate_risk else None


RULES: tuple[ReferralRule, ...] = (
    ReferralRule("on_call_alert", "Immediate risk: on-call officer", _on_call, _now, lambda s: s.on_call_contact),
    ReferralRule("police", "Police referral", _police, _at_once_if_high, lambda s: s.police_contact),
    ReferralRule(
        "local_authority_housing", "Local authority: emergency accommodation", _local_authority, _now,
        lambda s: s.local_authority_contact,
    ),
    ReferralRule("safeguarding", "Safeguarding referral", _safeguarding, _at_once_if_high, lambda s: s.safeguarding_contact),
    ReferralRule(
        "management_transfer", "Consider a management transfer", _management_transfer, _with_first_contact,
        lambda s: s.housing_team_contact,
    ),
    ReferralRule(
        "security_measures", "Offer security measures", _security_measures, _at_once_if_high,
        lambda s: s.housing_team_contact,
    ),
)
BY_KIND = {rule.kind: rule for rule in RULES}


def contact_for(session: Session, kind: str, settings: Settings) -> outbox.Contact:
    """Where a referral's notification goes: the officer on call (from the officers table) for
    an on-call alert when there is one, else the contact configured for its kind."""
    if kind == "on_call_alert":
        from bot.booking.officers import on_call_officer  # officers are the booking side's

        officer = on_call_officer(session)
        if officer is not None and officer.contact:
            return outbox.contact_setting(officer.contact, kind=kind)
    return outbox.contact_setting(BY_KIND[kind].contact(settings), kind=kind)


def decide(facts: Facts) -> dict[str, Decision]:
    """Every referral these facts call for, by kind."""
    found = {}
    for rule in RULES:
        decision = rule.decide(facts)
        if decision is not None:
            found[rule.kind] = decision
    return found


def notification(case: Case, label: str, due_at: datetime, level: Optional[str]) -> str:
    """What a notification says: the reference, the risk, and when it is due; never what they wrote."""
    risk = level or "not yet assessed"
    urgent = "IMMEDIATE RISK. " if case.immediate_risk else ""
    return (
        f"{urgent}{label}: case {case.reference}, risk {risk}, due {due_at:%Y-%m-%d %H:%M} UTC. "
        "Details in the case console."
    )


# Raised the moment someone says they are in danger: the on-call officer, and actions within the
# landlord. Disclosures to other agencies wait for the report, the safety check or the officer
# (the words that raise the alarm are tuned for recall, so some alarms are false).
AT_ONCE = frozenset({"on_call_alert", "management_transfer", "security_measures"})


def raise_referrals(
    session: Session, case: Case, facts: Facts, settings: Settings, now: datetime, only: Optional[frozenset] = None,
) -> list[Referral]:
    """Add the referrals ``case`` now needs and has not had (of the kinds in ``only``, if given);
    each with its outbox message.

    The caller commits (with whatever changed the case). Returns the new referrals."""
    have = {r.kind: r for r in case.referrals}
    new = []
    for kind, decision in decide(facts).items():
        if only is not None and kind not in only:
            continue
        if kind in have:
            _consent_given(case, have[kind], decision, now)
            continue
        rule = BY_KIND[kind]
        referral = Referral(
            kind=kind, basis=decision.basis, reason=decision.reason, status="open",
            created_at=now, updated_at=now, due_at=now + rule.due(facts, settings),
        )
        case.referrals.append(referral)
        new.append(referral)
        case.events.append(
            CaseEvent(at=now, actor="system", action="referral_raised",
                      details={"kind": kind, "basis": decision.basis, "reason": decision.reason})
        )
    if facts.immediate_risk or new:
        session.flush()  # ids for the outbox rows
    for referral in new:
        rule = BY_KIND[referral.kind]
        outbox.enqueue(
            session,
            dedupe_key=f"referral:{referral.id}",
            topic=referral.kind,
            contact=contact_for(session, referral.kind, settings),
            subject=f"{rule.label}: case {case.reference}",
            body=notification(case, rule.label, referral.due_at, facts.level),
            case_id=case.id,
            now=now,
        )
    raised = set(have) | {r.kind for r in new}
    if only is None and "police" not in raised and not facts.consent_police:
        _note_once(case, now, "police_not_told", {"why": "no consent and no duty to disclose"})
    if only is None and "safeguarding" not in raised and (facts.children_at_risk or facts.adult_at_risk):
        _note_once(case, now, "safeguarding_for_officer", {"why": "no consent, below medium risk"})
    return new


def _consent_given(case: Case, referral: Referral, decision: Decision, now: datetime) -> None:
    """A referral made under a duty to disclose, for which consent has since been given."""
    if referral.basis == "duty_to_disclose" and decision.basis == "consent":
        referral.basis, referral.reason, referral.updated_at = "consent", decision.reason, now
        case.events.append(CaseEvent(at=now, actor="system", action="referral_consent_given", details={"kind": referral.kind}))


def _note_once(case: Case, now: datetime, action: str, details: dict) -> None:
    if not any(e.action == action and e.details == details for e in case.events):
        case.events.append(CaseEvent(at=now, actor="system", action=action, details=details))


def tell(case: Case, now: datetime) -> tuple[str, ...]:
    """What the person is to be told of the referrals not yet told: a response name for
    each (domain.yml), marking them told. A disclosure without consent is always told,
    with its reason; the on-call alert is said with the 999 advice."""
    said = []
    for referral in case.referrals:
        if referral.told_at is not None or referral.kind == "on_call_alert":
            continue
        referral.told_at = now
        said.append(f"utter_referral_{referral.kind}" + ("_duty" if referral.basis == "duty_to_disclose" else ""))
    return tuple(said)
