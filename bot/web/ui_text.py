"""The website widget's own words (its buttons, labels, status lines and notices), in each
language: the English source is marked here for the catalogs, and the socket.io channel sends
the set for the conversation's language with ``session_confirm`` and whenever it changes.

widget.js carries the English set too, so it reads well before it has connected. Keep the keys
here and there the same (tests/test_web.py checks it).
"""
from __future__ import annotations

from bot.i18n import N_, is_rtl, translate
from bot.languages import LANGUAGES, supported
from bot.ratelimit import TOO_FAST

UI_TEXT: dict[str, str] = {
    "launcher": N_("Report hate crime or harassment"),
    "title": N_("Report hate crime or harassment"),
    "confidential": N_("This chat is confidential. If you are in danger now, call 999."),
    "exit": N_("Exit this page"),
    "exit_hint": N_("Press Shift three times to leave this page quickly."),
    "shared_device": N_(
        "Using a shared phone or computer? Nothing of this chat is kept in this browser, but "
        "the address of this page stays in your history: use a private window, or delete your "
        "browsing history afterwards."
    ),
    "close": N_("Close the chat"),
    "conversation": N_("Conversation"),
    "input_label": N_("Your message"),
    "send": N_("Send"),
    "hint": N_("Press Enter or the Send button to send."),
    "typing": N_("The assistant is typing"),
    "you_said": N_("You said:"),
    "assistant_said": N_("Assistant said:"),
    "reply_options": N_("Reply options"),
    "connecting": N_("Connecting…"),
    "reconnecting": N_("Reconnecting…"),
    "reconnected": N_("Connected again."),
    "cannot_reach": N_("Cannot reach the chat yet. Trying again…"),
    "not_sent": N_("Not sent yet. It will be sent when the connection is back."),
    "unavailable": N_("The chat could not load. Please try again later. If you are in danger now, call 999."),
    "too_long": N_("That message is too long to send. Please make it shorter."),
    "rate_limited": TOO_FAST,  # over a rate limit (bot/ratelimit.py): wait a minute, 999
    # Announced to screen readers while Shift is pressed towards a quick exit (as GOV.UK's component).
    "exit_two_more": N_("Shift, press 2 more times to exit."),
    "exit_one_more": N_("Shift, press 1 more time to exit."),
    "exit_expired": N_("Exit this page expired."),
    "restarted": N_("Your earlier conversation could not be continued, so a new one has started."),
}


def ui_text(language: str) -> dict:
    """What the widget needs to show itself in ``language``: its words, the language and the
    direction of the text."""
    code = supported(language)
    return {
        "lang": code,
        "dir": "rtl" if is_rtl(code) else "ltr",
        "native": LANGUAGES[code].native,
        "ui": {key: translate(text, code) for key, text in UI_TEXT.items()},
    }
