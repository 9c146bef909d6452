"""Danger now, from the words: the lexicon on its own labelled set, and inside Rasa's pipeline."""
import time
from pathlib import Path

import pytest
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


@pytest.mark.parametrize("text, danger", [
    # (phrasings not in the labelled set)
    # past, and past + now
    ("they smashed my windows in march", False),
    ("they smashed my windows in march and now theyre back kicking the door", True),
    ("he said he'd stab me, that was weeks ago", False),
    ("he hit me on saturday and hes outside again", True),
    ("two of them were carrying bats", False),
    # what-ifs, habits, questions, feelings about the area
    ("what do I do if he comes back with a knife", False),
    ("she says if i ring anyone shell kill me and shes in the kitchen", True),
    ("theyre outside every night", False),
    ("he keeps saying hell stab me and hes on the landing", True),
    ("who should i ring if im ever in danger", False),
    ("i dont feel safe walking home at night", False),
    ("im not safe at home right now", True),
    ("the balcony isnt safe", False),
    # denied, or over
    ("nah not in danger just want to report it", False),
    ("no they're still at the door", True),
    ("they chased me with a bat on friday but im ok now", False),
    # third person and witnesses
    ("the lad upstairs is beating his girlfriend i can hear her screaming", True),
    ("a gang are jumping a kid by the chippy", True),
    ("he got arrested for stabbing someone", False),
    # text-speak, typos, no punctuation
    ("plz theyr kickin my door", True),
    ("ther lads outside wiv knifes rn", True),
    ("sum1 in my flat pls help", True),
    ("there tryna brake the door", True),
    # danger words in other senses
    ("can i get a fire blanket for my kitchen", False),
    ("this form is killing me lol", False),
    ("they're going to get me evicted", False),
])
def test_tricky_cases(text, danger):
    assert bool(danger_signs(text)) is danger, danger_signs(text)


def _best_time(text: str, runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        danger_signs(text)
        best = min(best, time.perf_counter() - start)
    return best


def test_the_worst_case_for_the_patterns_is_no_slower_than_a_small_multiple_of_a_report():
    """It runs on every message. Its speed is measured in `make bench`; here, no wall-clock limit
    (a busy machine is no fault of the code), only a ratio in the same run: the same phrase over
    and over, the worst case for its patterns, against a report of the same length, and twice the
    length against once. Catastrophic backtracking would be hundreds of times; linear is 1 and 2."""
    report = (". ".join(LABELLED["not_danger"]) * 6)[:10000]
    once = _best_time(report[:5000])
    assert _best_time(report) < 5 * once  # linear in the length: about 2
    for phrase in ("he is ", "theres a man ", "hes outside ", "knife "):
        assert _best_time((phrase * 1000)[:5000]) < 10 * once, phrase


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


def test_the_classifier_alone_is_overruled_when_the_message_reads_as_a_report():
    def classified(text):
        return Message(data={"text": text, "intent": {"name": "danger", "confidence": 0.99},
                             "intent_ranking": [{"name": "danger", "confidence": 0.99},
                                                {"name": "report_harassment", "confidence": 0.6}]})

    past, unknown = classified("he attacked me with a knife last year"), classified("my sister is screaming next door right now")
    habit, not_now = classified("they keep putting notes through my door"), classified("the fire escape is blocked with rubbish")
    DangerLexicon().process([past, unknown, habit, not_now])
    for message in (past, habit, not_now):  # the model alone says danger, but not of now: overruled
        assert message.get("intent")["name"] == "report_harassment"
    assert [r["name"] for r in past.get("intent_ranking")] == ["report_harassment"]
    assert unknown.get("intent")["name"] == "danger"  # wording the lexicon does not know: the model's word stands


def _examples(path: Path) -> set[str]:
    return {line.strip()[2:].strip().lower() for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]
            for line in block["examples"].splitlines() if line.strip().startswith("- ")}


def test_the_labelled_sets_and_held_out_messages_are_kept_apart_from_the_training_data():
    root = Path(__file__).parent.parent
    training = set().union(*(_examples(p) for p in (root / "data" / "nlu").glob("*.yml")))
    for path in (root / "tests" / "data").glob("danger_*.yml"):
        labelled = {str(t).lower() for texts in yaml.safe_load(path.read_text(encoding="utf-8")).values() for t in texts}
        assert not training & labelled, (path.name, sorted(training & labelled)[:5])
    for path in (root / "tests" / "data").glob("nlu_*_heldout.yml"):
        assert not training & _examples(path), (path.name, sorted(training & _examples(path))[:5])


def test_an_overruled_message_whose_next_guess_is_doubtful_becomes_the_fallback():
    message = Message(data={"text": "the fire escape is blocked with rubbish",
                            "intent": {"name": "danger", "confidence": 0.9},
                            "intent_ranking": [{"name": "danger", "confidence": 0.9},
                                               {"name": "inform", "confidence": 0.05}]})
    DangerLexicon().process([message])
    assert message.get("intent")["name"] == "nlu_fallback"


# --- the other nine languages (bot/safety/lexicons.py) -----------------------------------------

from bot.safety import lexicons  # noqa: E402

OTHER_LANGUAGES = sorted(p.stem for p in lexicons.LEXICON_DIR.glob("*.yml"))


def _labelled(lang: str) -> dict:
    return yaml.safe_load((Path(__file__).parent / "data" / f"danger_{lang}.yml").read_text(encoding="utf-8"))


def test_every_language_but_english_has_a_lexicon_and_a_labelled_set():
    from bot.languages import CODES

    assert OTHER_LANGUAGES == sorted(c for c in CODES if c != "en")
    for lang in OTHER_LANGUAGES:
        assert len(_labelled(lang)["danger"]) >= 40 and len(_labelled(lang)["not_danger"]) >= 40


@pytest.mark.parametrize("lang", OTHER_LANGUAGES)
def test_every_danger_message_is_caught_in_its_own_language(lang):
    missed = [t for t in _labelled(lang)["danger"] if lang not in
              {s.split(":")[0] for s in lexicons.signs_in_any_language(str(t))}]
    assert missed == []


@pytest.mark.parametrize("lang", OTHER_LANGUAGES)
def test_false_alarms_stay_under_five_percent_in_every_language(lang):
    others = [str(t) for t in _labelled(lang)["not_danger"]]
    alarms = [t for t in others if lexicons.signs_in_any_language(t)]
    assert len(alarms) / len(others) < 0.05, alarms


def test_phrases_with_word_endings_and_gaps():
    phrases = lexicons.PhraseSet(["stoi pod drzwi*", "jest ~ domu", "ma nóż"])
    assert phrases.search(lexicons.padded("On stoi pod drzwiami!"))
    assert phrases.search(lexicons.padded("on jest u mnie w domu"))
    assert phrases.search(lexicons.padded("MA NOZ"))
    assert not phrases.search(lexicons.padded("jest daleko od mojego starego domu"))  # more than three words apart
    assert not phrases.search(lexicons.padded("stoisz pod drzwiami"))  # a different word, not an ending


def test_when_two_languages_match_the_likelier_one_speaks():
    signs = ["es:help", "pt:help"]
    assert lexicons.language_of(signs) == "es"
    assert lexicons.language_of(signs, {"pt": 0.8, "es": 0.2}) == "pt"
    assert lexicons.language_of(["perpetrator_here"]) is None  # English's own reader


def test_every_lexicon_reads_a_long_message_in_time_linear_in_its_length():
    """As above, a ratio in the same run rather than a wall-clock limit."""
    text = " ".join(str(t) for lang in OTHER_LANGUAGES for t in _labelled(lang)["not_danger"]) * 2
    assert len(text) >= 10000
    assert _best_time_all(text[:10000]) < 5 * _best_time_all(text[:5000])


def _best_time_all(text: str) -> float:
    best = 1.0
    for _ in range(3):
        start = time.perf_counter()
        lexicons.signs_in_any_language(text)
        best = min(best, time.perf_counter() - start)
    return best
