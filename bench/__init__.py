"""Benchmarks of the bot against the bare `rasa init` bot: `python -m bench` (make bench)."""
