"""Conversations the benchmarks drive through the REST channel, one message per turn."""

# A whole report, as a person types it (own words and buttons mixed), through to the case reference.
REPORT_JOURNEY = [
    "my neighbour keeps shouting racist abuse at me when I leave my flat",
    '/choose{"value":"victim"}',
    "racist abuse and threats",
    "because I'm black",
    "yesterday",
    "more than once",
    "yes",
    '/choose{"value":"home"}',
    "Flat 4, Oak Court",
    "yes it's the man next door",
    '/choose{"value":"our_tenant"}',
    "tall man, about 50",
    "no",
    "videos on my phone",
    "no",
    "no",
    '/choose{"value":"none"}',
    "Sam",
    "07700 900123",
    "yes",
    "no",
    "/affirm",
]

# The bare baseline (the bot `rasa init` makes): as many turns, cycling its own intents.
BASELINE_MESSAGES = ["hello", "I am sad", "yes", "very good", "goodbye", "are you a bot?", "no", "great"]
BASELINE_JOURNEY = [BASELINE_MESSAGES[i % len(BASELINE_MESSAGES)] for i in range(len(REPORT_JOURNEY))]
