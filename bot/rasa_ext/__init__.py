"""Adapters that the Rasa server loads by name from endpoints.yml. Only these modules import Rasa."""
