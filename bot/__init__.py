"""Hate crime and harassment reporting service: everything that is not a Rasa action.

Domain modules (cases, report, references, sla, consent) never import Rasa; the
adapters Rasa loads (tracker and lock stores) live in ``bot.rasa_ext``.
"""
