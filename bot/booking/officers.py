"""Officers from a roster file (YAML or CSV), and the on-call officer.

``python -m bot officers load FILE`` adds or updates officers by ``code``; every row is
checked first and nothing is written if any is wrong (the errors name the row and field).
``make run`` loads ``demo_officers.yml`` into an empty officers table only.

Fields (CSV columns; in YAML, a list of mappings, or ``officers:`` holding one):

| field | required | value |
| --- | --- | --- |
| code | yes | the staff code, unique (letters, digits, ``.``, ``_``, ``-``) |
| name | yes | full name; people are told the first name only |
| sex | yes | ``female`` or ``male`` |
| languages | no | ISO 639-1 codes (``pl``, ``ur``...), ``bsl`` for British Sign Language; English is always included. CSV: ``"pl ur"`` or ``"pl;ur"`` |
| ethnic_origin | no | self-declared, ONS top level: ``asian``, ``black``, ``mixed``, ``white``, ``other`` |
| team, area | no | text |
| working_pattern | yes | service-local hours: ``mon-fri 09:00-12:30, 13:30-17:00; sat 10:00-13:00``, or a mapping ``{mon: [["09:00", "12:30"], ...]}`` (JSON in CSV) |
| on_call | no | yes/no (default no) |
| active | no | yes/no (default yes); an inactive officer is offered no calls |
| contact | yes | where their notifications go: ``sms:+44...``, ``email:...``, ``whatsapp:+44...``, ``log:<name>`` |
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.booking import hours
from bot.booking.slots import SERVICE_LANGUAGE, is_language
from bot.db import transaction
from bot.models import ETHNIC_ORIGINS, OFFICER_SEXES, Officer, utcnow
from bot.outbox import Contact

DEMO_OFFICERS = Path(__file__).with_name("demo_officers.yml")
FIELDS = ("code", "name", "sex", "languages", "ethnic_origin", "team", "area", "working_pattern", "on_call",
          "active", "contact")
REQUIRED = ("code", "name", "sex", "working_pattern", "contact")
_CODE = re.compile(r"^[A-Za-z0-9._-]{1,40}$")
_TRUE = {"yes", "y", "true", "1", "on"}
_FALSE = {"no", "n", "false", "0", "off"}


class OfficerFileError(ValueError):
    """The file cannot be loaded; ``errors`` lists every problem, each naming its row."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Loaded:
    created: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


# --- Reading and checking ---------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any, limit: int) -> str:
    text = " ".join(str(value).split())
    if len(text) > limit:
        raise ValueError(f"at most {limit} characters")
    return text


def _bool(value: Any, default: bool) -> bool:
    if _blank(value):
        return default
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE | _FALSE:
        return word in _TRUE
    raise ValueError(f"yes or no, got {value!r}")


def _languages(value: Any) -> list[str]:
    if _blank(value):
        codes: list[str] = []
    elif isinstance(value, str):
        codes = [c for c in re.split(r"[\s,;|]+", value.strip().lower()) if c]
    elif isinstance(value, (list, tuple)):
        codes = [str(c).strip().lower() for c in value]
    else:
        raise ValueError("a list of language codes")
    unknown = [c for c in codes if not is_language(c)]
    if unknown:
        raise ValueError(f"not ISO 639-1 codes (or bsl): {', '.join(unknown)}")
    return [SERVICE_LANGUAGE] + sorted(set(codes) - {SERVICE_LANGUAGE})


def _pattern(value: Any) -> dict:
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg})") from None
    if _blank(value):
        raise ValueError("required")
    return hours.week_mapping(hours.parse_week(value))


def _choice(value: Any, allowed: tuple[str, ...], required: bool) -> Optional[str]:
    if _blank(value):
        if required:
            raise ValueError("required")
        return None
    word = str(value).strip().lower()
    if word not in allowed:
        raise ValueError(f"one of {', '.join(allowed)}, got {value!r}")
    return word


def _code(value: Any) -> str:
    code = str(value).strip()
    if not _CODE.match(code):
        raise ValueError("letters, digits, '.', '_' or '-', up to 40")
    return code


def _contact(value: Any) -> str:
    contact = Contact.parse(str(value or ""))
    return f"{contact.transport}:{contact.recipient}"


def officer_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """The checked, normalised fields of one row; ``ValueError`` naming each bad field."""
    errors = [f"{name}: unknown field (fields are {', '.join(FIELDS)})" for name in row if name not in FIELDS]
    errors += [f"{name}: required" for name in REQUIRED if _blank(row.get(name))]
    checks = {
        "code": _code,
        "name": lambda v: _text(v, 120),
        "sex": lambda v: _choice(v, OFFICER_SEXES, required=True),
        "languages": _languages,
        "ethnic_origin": lambda v: _choice(v, ETHNIC_ORIGINS, required=False),
        "team": lambda v: None if _blank(v) else _text(v, 80),
        "area": lambda v: None if _blank(v) else _text(v, 80),
        "working_pattern": _pattern,
        "on_call": lambda v: _bool(v, False),
        "active": lambda v: _bool(v, True),
        "contact": _contact,
    }
    fields: dict[str, Any] = {}
    for name, check in checks.items():
        value = row.get(name)
        if name in REQUIRED and _blank(value):
            continue
        try:
            fields[name] = check(value)
        except ValueError as exc:
            errors.append(f"{name}: {exc}")
    if errors:
        raise ValueError("; ".join(errors))
    return fields


def read_rows(path: Path) -> list[tuple[str, Mapping[str, Any]]]:
    """(where, row) for each officer in a YAML or CSV file."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if reader.fieldnames is None:
            raise OfficerFileError([f"{path.name}: empty file"])
        rows = []
        for row in reader:
            extra = row.pop(None, None)
            if extra:
                row["(extra columns)"] = extra
            rows.append((f"{path.name} line {reader.line_num}", {k.strip(): v for k, v in row.items()}))
        return rows
    if path.suffix.lower() not in (".yml", ".yaml"):
        raise OfficerFileError([f"{path.name}: a .yml, .yaml or .csv file"])
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise OfficerFileError([f"{path.name}: not valid YAML ({exc})"]) from None
    if isinstance(data, Mapping) and "officers" in data:
        data = data["officers"]
    if not isinstance(data, list):
        raise OfficerFileError([f"{path.name}: a list of officers (or 'officers:' holding one)"])
    return [(f"{path.name} entry {i}", row if isinstance(row, Mapping) else {"(not a mapping)": row})
            for i, row in enumerate(data, start=1)]


def check_file(path: Path) -> list[dict[str, Any]]:
    """Every officer of the file, checked; ``OfficerFileError`` with all the problems."""
    errors, officers, seen = [], [], {}
    for where, row in read_rows(path):
        label = f"{where} ({str(row.get('code')).strip()})" if not _blank(row.get("code")) else where
        try:
            fields = officer_fields(row)
        except ValueError as exc:
            errors.append(f"{label}: {exc}")
            continue
        if fields["code"] in seen:
            errors.append(f"{label}: code: also at {seen[fields['code']]}")
            continue
        seen[fields["code"]] = where
        officers.append(fields)
    if not officers and not errors:
        errors.append(f"{path.name}: no officers")
    if errors:
        raise OfficerFileError(errors)
    return officers


# --- Storing --------------------------------------------------------------------------------------------


def load_officers(factory: sessionmaker, path: Path | str) -> Loaded:
    """Add the file's officers, or update those whose code is known (all or none). Officers
    not in the file are left as they are (mark one ``active: no`` to stop offering calls)."""
    officers = check_file(Path(path))
    now = utcnow()
    created = updated = 0
    with transaction(factory) as session:
        existing = {o.code: o for o in session.execute(
            select(Officer).where(Officer.code.in_([f["code"] for f in officers]))).scalars()}
        for fields in officers:
            officer = existing.get(fields["code"])
            if officer is None:
                session.add(Officer(**fields, created_at=now, updated_at=now))
                created += 1
            elif any(getattr(officer, k) != v for k, v in fields.items()):
                for k, v in fields.items():
                    setattr(officer, k, v)
                officer.updated_at = now
                updated += 1
    return Loaded(created, updated, len(officers) - created - updated)


def ensure_demo_officers(factory: sessionmaker, path: Path = DEMO_OFFICERS) -> int:
    """Load the demo officers into an empty officers table (``make run``); how many were loaded."""
    with factory() as session:
        if session.execute(select(func.count(Officer.id))).scalar_one():
            return 0
    try:
        return load_officers(factory, path).created
    except IntegrityError:  # another process loaded them at the same moment
        return 0


def on_call_officer(session: Session) -> Optional[Officer]:
    """The active officer on call (the first by code, if several are)."""
    return session.execute(
        select(Officer).where(Officer.active.is_(True), Officer.on_call.is_(True)).order_by(Officer.code).limit(1)
    ).scalar_one_or_none()
