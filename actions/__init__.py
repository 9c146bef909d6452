"""Thin rasa-sdk actions: each reads the tracker, calls bot/, and turns the result into events."""
