"""Danger now, from the words: the lexicon on its own labelled set, and inside Rasa's pipeline."""
from pathlib import Path

import yaml
from rasa.shared.nlu.training_data.message import Message

from bot.rasa_ext.danger_nlu import DangerLexicon
from bot.safety.danger import danger_signs

LABELLED = yaml.safe_load((Path(__file__).parent / "data" / "danger_en.yml").read_text())


def test_every_danger_message_is_caught():
    missed = [t for t in LABELLED["danger"] if not danger_signs(t)]
    assert missed == []


def test_false_alarms_stay_under_five_percent():
    alarms = [t for t in LABELLED["not_danger"] if danger_signs(t)]
    assert len(alarms) / len(LABELLED["not_danger"]) < 0.05, alarms


def test_a_past_event_is_a_report_but_now_is_an_emergency():
    assert not danger_signs("he threatened me with a knife last week")
    assert danger_signs("he threatened me last week and now he's outside with a knife")


def test_the_pipeline_component_makes_the_intent_danger_whatever_the_classifier_said():
    message = Message(data={"text": "someone is breaking my door down",
                            "intent": {"name": "report_harassment", "confidence": 0.9},
                            "intent_ranking": [{"name": "report_harassment", "confidence": 0.9},
                                               {"name": "danger", "confidence": 0.05}]})
    other = Message(data={"text": "they wrote graffiti on the wall last month",
                          "intent": {"name": "report_harassment", "confidence": 0.9}})
    DangerLexicon().process([message, other])
    assert message.get("intent") == {"name": "danger", "confidence": 1.0}
    assert [r["name"] for r in message.get("intent_ranking")] == ["danger", "report_harassment"]
    assert other.get("intent")["name"] == "report_harassment"


def test_the_labelled_set_is_kept_apart_from_the_training_data():
    training = set()
    for path in (Path(__file__).parent.parent / "data" / "nlu").glob("*.yml"):
        for block in yaml.safe_load(path.read_text())["nlu"]:
            training |= {line[2:].strip().lower() for line in block["examples"].splitlines() if line.startswith("- ")}
    labelled = {str(t).lower() for texts in LABELLED.values() for t in texts}
    assert not training & labelled
