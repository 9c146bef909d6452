"""The ten languages: which one a message is in, names, the catalogs, dates, right-to-left."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
import yaml

from bot import i18n, i18n_catalogs
from bot.languages import (
    CODES, LANGUAGES, LearnedReader, chosen_language, identify, mentioned_language, named_language, supported,
)
from bot.settings import ROOT, load
from bot.text import normalise


def test_the_contract_languages_and_nothing_else():
    assert set(CODES) == {"en", "cy", "pl", "ro", "pa", "ur", "pt", "es", "ar", "bn"}
    assert {code for code, lang in LANGUAGES.items() if lang.rtl} == {"ar", "ur"}
    assert supported("xx") == "en" and supported(None) == "en" and supported("pl") == "pl"


def test_normalise_keeps_indic_vowel_signs_and_folds_arabic_letter_variants():
    assert normalise("আমাকে মেরে ফেলবে") == "আমাকে মেরে ফেলবে"
    assert normalise("ਉਹ ਮੇਰੇ ਦਰਵਾਜ਼ੇ ਤੇ ਹੈ!") == normalise("ਉਹ ਮੇਰੇ ਦਰਵਾਜ਼ੇ ਤੇ ਹੈ")
    assert normalise("إنه عند بابي الآن") == normalise("انه عند بابی الان")
    assert normalise("Zabiję cię!") == "zabije cie"


@pytest.mark.parametrize("text,code", [
    ("Polski", "pl"), ("po polsku", "pl"), ("urdu please", "ur"), ("Cymraeg", "cy"), ("বাংলা", "bn"),
    ("español", "es"), ("espanol", "es"), ("English", "en"), ("العربية", "ar"), ("ਪੰਜਾਬੀ", "pa"),
])
def test_a_language_is_named_in_itself_in_english_and_without_accents(text, code):
    assert named_language(text) == code
    assert identify(text).code == code


def test_a_language_mentioned_in_a_request():
    assert mentioned_language("can we speak polish please") == "pl"
    assert mentioned_language("I want to write in Urdu") == "ur"
    assert mentioned_language("change language") is None
    assert mentioned_language("polish or urdu") is None  # two: ask which


def test_chosen_means_a_button_or_a_name_not_the_language_a_message_is_written_in():
    assert chosen_language([{"entity": "language", "value": "pl"}]) == "pl"  # a button's payload
    assert chosen_language([{"entity": "language", "value": "ur", "extractor": "LanguageName"}]) == "ur"
    assert chosen_language([{"entity": "language", "value": "en", "extractor": "LanguageIdentifier"}]) is None
    assert chosen_language([{"entity": "language", "value": "xx"}]) is None


@pytest.mark.parametrize("text,code", [
    ("ਮੈਨੂੰ ਮਦਦ ਚਾਹੀਦੀ ਹੈ", "pa"),  # only Punjabi is written in Gurmukhi
    ("আমাকে সাহায্য করুন", "bn"),
    ("وہ میرے دروازے پر کھڑا ہے", "ur"),
    ("هو عند الباب الآن ومعه سكين", "ar"),
    ("Mój sąsiad ciągle mnie obraża", "pl"),
])
def test_a_script_or_a_clear_sentence_is_identified_without_the_learned_reader(text, code):
    assert identify(text).code == code


def test_two_words_are_not_enough():
    assert not identify("hi there").sure
    assert not identify("ok").sure
    assert not identify("/greet").sure


def test_a_language_we_do_not_support_is_named_so_an_interpreter_can_be_offered():
    found = identify("Je voudrais signaler du harcèlement raciste de mon voisin")
    assert found.code is None and found.other == "French"


def _reader() -> LearnedReader:
    texts = ["hello i need help", "my neighbour shouts at me every day", "they wrote graffiti on my door",
             "mujhe madad chahiye", "woh mere darwaze pe khara hai", "mera padosi mujhe gaali deta hai",
             "moj sasiad mnie obraza", "potrzebuje pomocy", "napisali cos na moich drzwiach"]
    return LearnedReader.fit(texts, ["en"] * 3 + ["ur"] * 3 + ["pl"] * 3)


def test_the_learned_reader_knows_romanised_text_and_is_kept_as_plain_arrays():
    trained = _reader()
    vectorizer, classifier = trained.model.steps[0][1], trained.model.steps[1][1]
    kept = LearnedReader.from_arrays(
        {"classes": list(classifier.classes_), "vocabulary": sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)},
        {"idf": vectorizer.idf_, "coef": classifier.coef_, "intercept": classifier.intercept_},
    )
    for text in ("mujhe bahut dar lag raha hai", "sasiad mnie bije", "they shout at me"):
        a, b = trained.probabilities(text), kept.probabilities(text)
        assert max(a, key=a.get) == max(b, key=b.get)
        assert all(abs(a[k] - b[k]) < 1e-6 for k in a)
    assert max(kept.probabilities("mujhe madad chahiye please"), key=kept.probabilities("mujhe madad chahiye please").get) == "ur"


def test_roman_urdu_is_identified_with_the_learned_reader():
    reader = _reader()
    text = "woh mere darwaze pe khara hai mujhe madad chahiye"
    assert identify(text, reader.probabilities(text)).code == "ur"


# --- the catalogs ------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", [c for c in CODES if c != "en"])
def test_every_message_is_translated_in_every_language(lang):
    problems = i18n_catalogs.problems(lang)
    assert not problems, f"{lang}: {len(problems)} to do (python -m bot.i18n_catalogs check {lang}):\n" + "\n".join(problems[:20])


def test_the_english_catalog_is_the_source_text():
    assert i18n_catalogs.problems("en") == []


def test_a_translation_is_used_and_a_missing_one_falls_back_to_english():
    catalog = i18n_catalogs.read_catalog("pl")
    message = next(m for m in catalog if m.id == "Hello. This is a confidential service for reporting hate crime and harassment to your housing association.")
    if message.string:
        assert i18n.translate(message.id, "pl") == message.string
    assert i18n.translate("no such message", "pl") == "no such message"
    assert i18n.translate("Never mind", "xx") == "Never mind"


def test_plural_forms_follow_the_language():
    from actions.report import ANSWERED

    assert i18n.translate_plural(ANSWERED, 1, "en") == "You've answered 1 question so far."
    assert i18n.translate_plural(ANSWERED, 5, "en") == "You've answered 5 questions so far."
    catalog = i18n_catalogs.read_catalog("pl")
    forms = catalog.get(ANSWERED[0]).string
    if all(forms):  # Polish: one, few (2-4, 22-24), many (5-21, 25...)
        assert i18n.translate_plural(ANSWERED, 1, "pl") == forms[0].replace("{count}", "1")
        assert i18n.translate_plural(ANSWERED, 3, "pl") == forms[1].replace("{count}", "3")
        assert i18n.translate_plural(ANSWERED, 5, "pl") == forms[2].replace("{count}", "5")
        assert i18n.translate_plural(ANSWERED, 22, "pl") == forms[1].replace("{count}", "22")


def test_arabic_and_urdu_lines_are_marked_right_to_left():
    assert i18n.mark_direction("HC-2026-ABCD\nمرحبا", "ar") == "\u200fHC-2026-ABCD\n\u200fمرحبا"
    assert i18n.mark_direction("\u200fمرحبا", "ur") == "\u200fمرحبا"
    assert i18n.mark_direction("Hello", "pl") == "Hello"


def test_dates_and_times_in_each_language_s_own_format():
    settings = load()
    moment = datetime(2026, 11, 23, 10, 30, tzinfo=timezone.utc)  # Monday, GMT
    assert i18n.spoken_time(moment, "en", settings) == "Monday 23 November at 10:30am"
    assert "poniedziałek" in i18n.spoken_time(moment, "pl", settings)
    assert "lunes" in i18n.spoken_time(moment, "es", settings)
    assert "Dydd Llun" in i18n.spoken_time(moment, "cy", settings)
    summer = datetime(2026, 7, 6, 9, 0, tzinfo=timezone.utc)  # 10am in London (BST)
    assert "10:00" in i18n.spoken_time(summer, "pl", settings)
    assert i18n.format_day(date(2026, 11, 23), "pt").startswith("segunda-feira")
    for code in CODES:
        assert i18n.spoken_time(moment, code, settings)
        assert i18n.format_when(moment, code, "Europe/London")


def test_the_training_data_of_every_language_is_labelled_with_its_language():
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        lang = path.stem.split("_")[0]
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            if "intent" not in block:
                continue
            got = (block.get("metadata") or {}).get("language", "en")
            assert got == lang, f"{path.name}: {block['intent']} is labelled {got}"
