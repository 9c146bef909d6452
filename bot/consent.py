"""Consent wording: what was shown, by version, so a record says exactly what was agreed.

Karbon 3.3.3 and 3.6.1: we tell the police about hate crime and harassment with
the victim's consent; without it only under a duty to disclose (to protect the
victim, to prevent harm to someone else, to prevent or detect a crime).

The text here is the canonical English wording; domain.yml's
``utter_ask_consent_*`` must say exactly this (a test checks). Change the
wording only with a new version.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Wording:
    scope: str
    version: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


WORDINGS: dict[str, Wording] = {
    "consent_police": Wording(
        "police",
        "police-v1",
        "May we tell the police about this report? They may get in touch to help. "
        "Without your consent we would only share it to protect you, to prevent harm to "
        "someone else, or to prevent or detect a crime.",
    ),
    "consent_agencies": Wording(
        "other_agencies",
        "agencies-v1",
        "May we pass your details to other agencies that can help, such as the council "
        "or a victim support service?",
    ),
}


def record(slot: str, answer: str, at_iso: str, language: str) -> dict:
    """What to keep about a consent answer at the moment it was given."""
    wording = WORDINGS[slot]
    return {
        "answer": answer,
        "at": at_iso,
        "version": wording.version,
        "sha256": wording.sha256,
        "language": language,
    }
