import re

from bot import references


def test_reference_is_short_grouped_and_from_the_unambiguous_alphabet():
    for _ in range(500):
        ref = references.new_reference()
        assert references.PATTERN.match(ref), ref
        assert not re.search(r"[01OILUSZB258]", ref)


def test_references_are_not_sequential_or_repeated():
    refs = {references.new_reference() for _ in range(5000)}
    assert len(refs) == 5000


def test_normalise_accepts_how_people_type_it_and_catches_a_misread_symbol():
    ref = references.new_reference()
    assert references.normalise(ref.lower().replace("-", " ")) == ref
    assert references.normalise(ref.replace("-", "")) == ref
    # Change one symbol: the check symbol catches it.
    body = ref.replace("-", "")
    wrong_symbol = next(c for c in references.ALPHABET if c != body[0])
    assert references.normalise(wrong_symbol + body[1:]) is None
    # Swap two neighbours (a common slip): caught too when they differ.
    if body[0] != body[1]:
        assert references.normalise(body[1] + body[0] + body[2:]) is None
    assert references.normalise("hello") is None
