"""Officers from a roster file (YAML or CSV), the demo officers, the on-call officer and the
command line, on SQLite and PostgreSQL."""
from __future__ import annotations

import textwrap

import pytest
import yaml
from sqlalchemy import func, select

from bot.__main__ import _demo_officers, main
from bot.booking.officers import (
    DEMO_OFFICERS,
    OfficerFileError,
    check_file,
    ensure_demo_officers,
    load_officers,
    on_call_officer,
)
from bot.models import Officer

ROSTER = """\
officers:
  - code: HO01
    name: Anna Kowalska
    sex: female
    languages: [pl]
    ethnic_origin: white
    team: Hate Crime
    area: North
    working_pattern: mon-fri 09:00-12:30, 13:30-17:00
    contact: email:anna@example.org
  - code: HO02
    name: Imran Hussain
    sex: Male
    languages: ur pa
    working_pattern: {mon: [["09:00", "17:00"]], sat: ["10:00-13:00"]}
    on_call: yes
    contact: sms:+447700900001
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def officers(factory):
    with factory() as s:
        return {o.code: o for o in s.execute(select(Officer)).scalars()}


def test_a_yaml_roster_is_loaded_and_normalised(factory, tmp_path):
    loaded = load_officers(factory, write(tmp_path, "roster.yml", ROSTER))
    assert (loaded.created, loaded.updated, loaded.unchanged) == (2, 0, 0)
    anna, imran = officers(factory)["HO01"], officers(factory)["HO02"]
    assert (anna.sex, anna.languages, anna.ethnic_origin, anna.team, anna.area) == ("female", ["en", "pl"], "white",
                                                                                  "Hate Crime", "North")
    assert anna.working_pattern["fri"] == [["09:00", "12:30"], ["13:30", "17:00"]] and "sat" not in anna.working_pattern
    assert (anna.on_call, anna.active, anna.contact) == (False, True, "email:anna@example.org")
    assert (imran.sex, imran.languages, imran.ethnic_origin) == ("male", ["en", "pa", "ur"], None)
    assert imran.working_pattern == {"mon": [["09:00", "17:00"]], "sat": [["10:00", "13:00"]]} and imran.on_call


def test_loading_again_updates_by_code(factory, tmp_path):
    path = write(tmp_path, "roster.yml", ROSTER)
    load_officers(factory, path)
    assert load_officers(factory, path).unchanged == 2
    path.write_text(ROSTER.replace("area: North", "area: South").replace("on_call: yes", "active: no"), encoding="utf-8")
    loaded = load_officers(factory, path)
    assert (loaded.created, loaded.updated, loaded.unchanged) == (0, 2, 0)
    now = officers(factory)
    assert len(now) == 2 and now["HO01"].area == "South" and not now["HO02"].active and not now["HO02"].on_call


def test_a_csv_roster(factory, tmp_path):
    path = write(tmp_path, "roster.csv", """\
        code,name,sex,languages,ethnic_origin,team,area,working_pattern,on_call,active,contact
        HO05,Gurpreet Kaur,female,pa;bsl,asian,,,tue-fri 10:00-18:00,no,yes,log:officer-HO05
        HO06,Rhys Evans,male,cy,,,,"{""mon"": [[""09:00"", ""17:00""]]}",,,log:officer-HO06
        """)
    assert load_officers(factory, path).created == 2
    got = officers(factory)
    assert got["HO05"].languages == ["en", "bsl", "pa"] and got["HO05"].working_pattern["tue"] == [["10:00", "18:00"]]
    assert got["HO06"].working_pattern == {"mon": [["09:00", "17:00"]]} and got["HO06"].active


def test_every_problem_is_named_by_row_and_nothing_is_loaded(factory, tmp_path):
    path = write(tmp_path, "roster.csv", """\
        code,name,sex,languages,working_pattern,contact
        HO01,Anna,female,pl,mon-fri 09:00-17:00,log:anna
        HO02,Bo,f,pl xx,mon 09:00-10:00,log:bo
        HO03,,female,,mon 10:00-09:00,sms:
        HO01,Anna Again,female,,mon 09:00-10:00,log:anna
        """)
    with pytest.raises(OfficerFileError) as raised:
        load_officers(factory, path)
    errors = raised.value.errors
    assert len(errors) == 3
    assert errors[0].startswith("roster.csv line 3 (HO02): ") and "sex: one of female, male, got 'f'" in errors[0]
    assert "languages: not ISO 639-1 codes (or bsl): xx" in errors[0]
    assert errors[1].startswith("roster.csv line 4 (HO03): ") and "name: required" in errors[1]
    assert "working_pattern: mon: 10:00-09:00 ends before it starts" in errors[1] and "contact:" in errors[1]
    assert errors[2] == "roster.csv line 5 (HO01): code: also at roster.csv line 2"
    with factory() as s:
        assert s.execute(select(func.count(Officer.id))).scalar_one() == 0


@pytest.mark.parametrize("name, text, expected", [
    ("r.yml", "officers: [{code: X, name: X, sex: female, working_pattern: mon 09:00-10:00, contact: log:x, "
              "hours: 5}]", "r.yml entry 1 (X): hours: unknown field"),
    ("r.yml", "officers: [{code: X, name: X, sex: female, working_pattern: 'mon 9-5', contact: log:x}]",
     "r.yml entry 1 (X): working_pattern: a time is HH:MM"),
    ("r.yml", "officers: [{code: 'a b', name: X, sex: female, ethnic_origin: british, working_pattern: "
              "{mon: [[09:00]]}, contact: log:x}]", "code: letters"),
    ("r.yml", "officers: [{code: X, name: X, sex: female, working_pattern: mon 09:00-10:00, contact: log:x, "
              "on_call: perhaps}]", "on_call: yes or no, got 'perhaps'"),
    ("r.yml", "officers: [oops]", "r.yml entry 1: (not a mapping): unknown field"),
    ("r.yml", "officers: {code: X}", "r.yml: a list of officers"),
    ("r.yml", "officers: [\n  - code: [", "r.yml: not valid YAML"),
    ("r.yml", "officers: []", "r.yml: no officers"),
    ("r.txt", "code,name", "r.txt: a .yml, .yaml or .csv file"),
    ("r.csv", "", "r.csv: empty file"),
])
def test_loader_errors(tmp_path, name, text, expected):
    with pytest.raises(OfficerFileError) as raised:
        check_file(write(tmp_path, name, text))
    assert expected in str(raised.value)


def test_the_demo_officers_cover_what_the_demo_needs():
    demo = check_file(DEMO_OFFICERS)
    assert 10 <= len(demo) <= 14 and {o["sex"] for o in demo} == {"female", "male"}
    spoken = {code for o in demo for code in o["languages"]}
    assert {"pl", "ur", "pa", "ar", "bn", "cy", "ro", "pt", "es", "bsl"} <= spoken
    assert any(o["sex"] == "female" and "pl" in o["languages"] for o in demo)  # the "done when"
    assert sum(o["on_call"] for o in demo) == 1
    assert any("sat" in o["working_pattern"] for o in demo)
    assert any(w[1] >= "19:00" for o in demo for ws in o["working_pattern"].values() for w in ws)
    assert all(o["contact"].startswith("log:") for o in demo)
    assert yaml.safe_load(DEMO_OFFICERS.read_text())["officers"]


def test_demo_officers_go_only_into_an_empty_table(factory, settings, tmp_path, capsys):
    _demo_officers(settings)  # what `python -m bot run` does after migrating
    assert "Loaded 13 demo officers" in capsys.readouterr().out and len(officers(factory)) == 13
    _demo_officers(settings)
    assert ensure_demo_officers(factory) == 0 and capsys.readouterr().out == ""


def test_demo_officers_never_mix_with_real_ones(factory, settings, tmp_path, capsys):
    load_officers(factory, write(tmp_path, "roster.yml", ROSTER))
    _demo_officers(settings)
    assert capsys.readouterr().out == "" and len(officers(factory)) == 2


def test_the_on_call_officer(factory, tmp_path):
    with factory() as s:
        assert on_call_officer(s) is None
    load_officers(factory, write(tmp_path, "roster.yml", ROSTER))
    with factory() as s:
        assert on_call_officer(s).code == "HO02"
    load_officers(factory, write(tmp_path, "roster.yml", ROSTER.replace("on_call: yes", "on_call: yes\n    active: no")))
    with factory() as s:
        assert on_call_officer(s) is None


def test_the_command_line(database_url, factory, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["officers", "load", str(write(tmp_path, "roster.yml", ROSTER))]) == 0
    assert "2 officers in" in capsys.readouterr().out and len(officers(factory)) == 2
    bad = write(tmp_path, "bad.csv", "code,name,sex,working_pattern,contact\nX,Y,z,mon 09:00-10:00,log:x\n")
    assert main(["officers", "load", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "Nothing loaded" in err and "bad.csv line 2 (X): sex: one of female, male" in err
    assert main(["officers", "load", str(tmp_path / "missing.yml")]) == 1
    assert "cannot read" in capsys.readouterr().err
