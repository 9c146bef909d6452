"""Danger now, recognised from the words themselves, not only from the language model.

A curated lexicon of patterns (English first; one list per language as languages
arrive), tuned for recall: a false alarm costs one sentence of 999 advice, a miss can
cost a life. It looks for the present: the person who harms them at the door or inside,
a weapon with them now, a break-in, a fire being set, someone being hurt, a threat to
kill with the person there, or a plain cry for help. Past events ("he threatened me
with a knife last week") are reports, not emergencies, and are left to the report.

The Rasa server applies it inside the language-model pipeline
(bot/rasa_ext/danger_nlu.py), so it needs neither the action server nor a database.
"""
from __future__ import annotations

import re

from bot.text import normalise

_PERSON = r"(?:he|she|they|someone|somebody|a man|a woman|men|a gang|the gang|a group|people|my neighbour|the neighbour|my ex|him|them)"
_NOW = r"(?:is|are|s|re|'s|'re|keeps?|still)"
# "hes", "theyre": typed without the apostrophe
_SUBJECT_NOW = rf"(?:{_PERSON}\s*{_NOW}?|hes|shes|theyre|theyve)"
_PLACE = (
    r"(?:outside|here|downstairs|upstairs|at (?:my|the|our) (?:door|front door|back door|window|gate)|"
    r"in (?:my|the|our) (?:house|flat|home|garden|hall|hallway|building|room|kitchen)|"
    r"on (?:my|the|our) (?:doorstep|landing|balcony)|inside)"
)
_WEAPON = r"(?:knife|knives|machete|machetes|gun|guns|blade|blades|axe|hammer|baseball bat|bats?|weapons?|acid|crowbar|petrol)"

PATTERNS: dict[str, re.Pattern] = {
    name: re.compile(pattern)
    for name, pattern in {
        # "he's outside my door", "they are in the garden", "someone's trying to get in"
        "perpetrator_here": rf"\b{_SUBJECT_NOW}\s*(?:right )?(?:waiting (?:for me |for us )?)?{_PLACE}",
        "broke_in": r"\b(?:broke|broken|got|getting|climbed) in(?:to)?\b",
        "coming_now": r"\bcoming (?:up|in|round|over|back|for)\b.*\b(?:now|right now)\b",
        "at_the_door_now": r"\b(?:banging|knocking|hammering|kicking|pounding) (?:on|at) (?:my|the|our) (?:front |back )?(?:door|window)s?\b.*\b(?:now|right now)\b",
        "getting_in": r"\b(?:trying to|going to|about to) (?:get in|break in|break the door|kick the door|get into)",
        # "breaking my door down", "kicking the door in", "smashing our windows"
        "break_in": r"\b(?:breaking|kicking|smashing|forcing|bashing|punching) (?:in |down |through )?(?:my|the|our) (?:front |back )?(?:door|doors|window|windows|lock)",
        "throwing_at": r"\bthrowing (?:\w+ )?(?:bricks|stones|rocks|things|bottles|something) (?:at|through)",
        "break_in_now": r"\b(?:is|are|s|re|'s|'re) being (?:broken|kicked|smashed|forced)",
        "climbing_in": r"\bclimbing (?:in|into|through)",
        # a weapon and "here/now" in one message
        "weapon_here": rf"\b{_WEAPON}\b.*\b(?:outside|here|now|at (?:my|the|our) door|in (?:my|the|our) (?:house|flat|garden))\b"
                       rf"|\b(?:outside|here|now|at (?:my|the|our) door)\b.*\b{_WEAPON}\b",
        "has_weapon": rf"\b(?:has|have|got|holding|waving) (?:got )?(?:a |an )?{_WEAPON}\b",
        "fire": r"\b(?:setting fire|set fire to .* now|on fire|pouring petrol|petrol through|smell smoke|smell petrol|something burning|burning through|fire (?:at|to|in|through) (?:my|the|our) (?:door|letterbox|house|flat))"
                r"|\b(?:burn|burning) (?:us|me|the house|the flat|my house|my flat|our house)(?: down| out)?\b",
        # "he's hitting me", "they are attacking my son"
        "being_hurt": rf"\b(?:{_SUBJECT_NOW})?\s*(?:hitting|punching|kicking|hurting|attacking|beating|strangling|choking|stabbing|dragging|surrounding|chasing) (?:me|us|my|her|him)\b",
        "being_hurt_now": r"\bbeing (?:attacked|beaten|hit|hurt|stabbed|strangled|chased|followed|threatened|kicked|punched)\b",
        "harassed_right_now": r"\b(?:following|threatening|watching|chasing|shouting at) (?:me|us)\b.*\bright now\b|\bright now\b.*\b(?:following|threatening|chasing) (?:me|us)\b",
        "threat_will": r"\b(?:he'll|she'll|they'll|hell|theyll|going to|gonna|will) (?:kill|stab|shoot|hurt|burn) (?:me|us)\b",
        "threat_here": r"\b(?:kill|stab|shoot|hurt|burn)\w* (?:me|us|my)\b.*\b(?:outside|here|now|tonight|coming)\b"
                       r"|\b(?:outside|here|now|coming)\b.*\b(?:kill|stab|shoot)\w* (?:me|us)\b",
        "cry_for_help": r"\b(?:help me now|help us now|help help|please help (?:me|us) (?:now|quick|please)|call the police|"
                        r"send (?:the )?police|i'?m hiding|we'?re hiding|i'?m trapped|we'?re trapped|locked in|"
                        r"in danger|not safe|fear for my life|scared for my life|"
                        r"coming (?:for|to get) (?:me|us)|going to kill me|gonna kill me|can'?t get out|he'?s here|they'?re here|she'?s here)\b",
    }.items()
}


# "A woman on my landing shouted at me yesterday" places someone, but in the past.
_PAST = re.compile(r"\b(?:yesterday|last (?:night|week|month|year|time)|ago|earlier|on (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b")
_PRESENT = re.compile(r"\b(?:now|right now|at the moment|currently|still|again|tonight)\b")
_PLACE_ONLY = {"perpetrator_here", "broke_in", "has_weapon", "threat_will"}


def danger_signs(text: str) -> list[str]:
    """The names of the patterns this message matches (empty when none)."""
    norm = normalise(text)
    found = [name for name, pattern in PATTERNS.items() if pattern.search(norm)]
    if found and set(found) <= _PLACE_ONLY and _PAST.search(norm) and not _PRESENT.search(norm):
        return []  # someone was there, in the past: a report, not an emergency
    return found


def is_danger_now(text: str) -> bool:
    return bool(danger_signs(text))
