"""The partner API over HTTP (aiohttp's test server, the real app), on SQLite and PostgreSQL: bearer
tokens, a case by reference, the list's filters and pages, no free text in any answer, every read in
the audit log, and every response checked against docs/openapi.yaml."""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

import jsonschema
import pytest
import yaml
from sqlalchemy import select

from bot.models import AuditEntry, Case, Consent, Referral, WorkOrder
from bot.web import api

OPENAPI = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
POLICE_TOKEN = "police-token-0123456789abcdefXYZ"
COUNCIL_TOKEN = "council-token-9876543210zyxwvuABC"
TOKENS = f"policeportal:{POLICE_TOKEN}, council:{COUNCIL_TOKEN}"
# Free text a partner must never receive; each marker is seeded into one field.
MARKERS = {
    "description": "MARKER-DESCRIPTION-7f3a",
    "address": "MARKER-ADDRESS-7f3a",
    "perpetrator_description": "MARKER-PERPETRATOR-7f3a",
    "contact_name": "MARKER-NAME-7f3a",
    "contact_phone": "+447700900999",
    "contact_email": "marker-email-7f3a@example.org",
    "safe_contact_other": "MARKER-SAFE-CONTACT-7f3a",
    "code_word": "MARKER-CODEWORD-7f3a",
    "graffiti_location": "MARKER-GRAFFITI-7f3a",
}
WORK_ORDER_LOCATION = "MARKER-WORKORDER-LOCATION-7f3a"
FAR = datetime(2100, 1, 1, tzinfo=timezone.utc)


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2020, 5, day, hour, tzinfo=timezone.utc)


# --- docs/openapi.yaml as JSON Schema ----------------------------------------------------------

def load_spec() -> dict:
    return yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))


def resolve(spec: dict, node):
    """Follow a local $ref ("#/components/...") to what it names."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        target = spec
        for part in ref[2:].split("/"):
            assert part in target, f"dangling $ref {ref}"
            target = target[part]
        node = target
    return node


def to_json_schema(spec: dict, node):
    """An OpenAPI 3.0 schema as plain JSON Schema: component $refs inlined, ``nullable: true`` made
    into "this, or null"."""
    if isinstance(node, list):
        return [to_json_schema(spec, item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return to_json_schema(spec, resolve(spec, node))
    out = {key: to_json_schema(spec, value) for key, value in node.items()
           if key not in ("nullable", "example", "format")}
    if "properties" in node:  # property names are not schemas' keywords: keep every one
        out["properties"] = {name: to_json_schema(spec, value) for name, value in node["properties"].items()}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def response_schema(spec: dict, template: str, status: int) -> dict:
    responses = spec["paths"][template]["get"]["responses"]
    assert str(status) in responses, f"{template} answered {status}, which docs/openapi.yaml does not describe"
    response = resolve(spec, responses[str(status)])
    return to_json_schema(spec, response["content"]["application/json"]["schema"])


def check_against_spec(spec: dict, template: str, status: int, body) -> None:
    schema = response_schema(spec, template, status)
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.Draft4Validator(schema).validate(body)


def test_the_validator_itself_refuses_what_the_document_does_not_allow():
    spec = load_spec()
    schema = response_schema(spec, "/api/cases/{reference}", 200)
    good = _expected_a()
    jsonschema.Draft4Validator(schema).validate(good)
    for bad in ({**good, "description": "x"}, {**good, "submitted_at": "2020-05-01T12:00:00+00:00"},
                {**good, "anonymous": None}, {**good, "risk_level": "extreme"},
                {k: v for k, v in good.items() if k != "risk_level"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.Draft4Validator(schema).validate(bad)
    jsonschema.Draft4Validator(schema).validate({**good, "risk_level": None, "first_contact_at": None,
                                                 "incident_type": None})


def test_the_document_lists_exactly_the_filters_and_fields_the_code_has():
    spec = load_spec()
    documented = [p["name"] for p in spec["paths"]["/api/cases"]["get"]["parameters"]]
    assert documented == list(api.LIST_PARAMETERS)
    case_schema = spec["components"]["schemas"]["Case"]
    assert set(case_schema["properties"]) == set(case_schema["required"]) == set(_expected_a())
    scheme = spec["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer") and spec["security"] == [{"bearer": []}]


def test_tokens_are_read_as_name_token_pairs_and_malformed_ones_skipped(caplog):
    with caplog.at_level(logging.WARNING):
        tokens = api.parse_tokens(" a:one , bad-entry-secret, :x, b:two:three ,, c: ")
    assert tokens == {"a": "one", "b": "two:three"}
    assert "bad-entry-secret" not in caplog.text
    assert api.authenticate(tokens, "Bearer one") == "a" and api.authenticate(tokens, "bearer two:three") == "b"
    for header in (None, "", "Bearer", "Bearer ", "Basic one", "Bearer on", "Bearer one1", "one"):
        assert api.authenticate(tokens, header) is None
    assert api.authenticate({}, "Bearer one") is None


# --- Seeding --------------------------------------------------------------------------------

def _case(reference: str, **values) -> Case:
    base = dict(reference=reference, report_id=f"r-{reference}", conversation_id=f"c-{reference}", channel="webchat",
                language="en", status="new", skipped=[], review_due_at=FAR, **MARKERS)
    base.update(values)
    return Case(**base)


def _seed(factory) -> None:
    with factory() as s:
        a = _case("AAA-AAA-AAA", submitted_at=at(1), risk_level="high", immediate_risk=True, reporter_role="victim",
                  anonymous=False, incident_type=["racist", "verbal_abuse"], motivation=["race"],
                  incident_date=date(2020, 4, 30), incident_period="evening", frequency="repeated", ongoing="yes",
                  location="home", perpetrator_status="neighbour", first_contact_due_at=at(2), review_due_at=datetime(2020, 8, 1, 12, tzinfo=timezone.utc))
        a.consents = [Consent(scope="police", granted=True, answered=True, wording_version="consent-v2",
                              wording_sha256="0" * 64, language="en", recorded_at=at(1)),
                      Consent(scope="other_agencies", granted=False, answered=False, wording_version="consent-v2",
                              wording_sha256="0" * 64, language="en", recorded_at=at(1))]
        a.referrals = [Referral(kind="police", basis="consent", reason="consented", status="open", created_at=at(1),
                                due_at=at(2), updated_at=at(1))]
        a.work_orders = [WorkOrder(kind="graffiti_removal", status="open", location=WORK_ORDER_LOCATION,
                                   created_at=at(1), due_at=FAR)]
        # First contact made in time, but a work order is late: overdue.
        b = _case("BBB-BBB-BBB", submitted_at=at(2), channel="sms", risk_level="standard", first_contact_due_at=at(3),
                  first_contact_at=at(2, 15))
        b.work_orders = [WorkOrder(kind="emergency_repair", status="open", created_at=at(2), due_at=at(2, 16))]
        # Nothing due yet: not overdue.
        c = _case("CCC-CCC-CCC", submitted_at=at(3), channel="whatsapp", risk_level="medium", status="closed",
                  first_contact_due_at=FAR)
        # First contact made late and the work order done late: met, so not overdue now.
        d = _case("DDD-DDD-DDD", submitted_at=at(4, 23), first_contact_due_at=at(5), first_contact_at=at(6))
        d.work_orders = [WorkOrder(kind="graffiti_removal", status="completed", created_at=at(4), due_at=at(5),
                                   completed_at=at(7))]
        s.add_all([a, b, c, d])
        s.commit()


def _expected_a() -> dict:
    return {
        "reference": "AAA-AAA-AAA", "status": "new", "channel": "webchat", "language": "en",
        "submitted_at": "2020-05-01T12:00:00Z", "reporter_role": "victim", "anonymous": False,
        "incident_type": ["racist", "verbal_abuse"], "motivation": ["race"], "incident_date": "2020-04-30",
        "incident_period": "evening", "frequency": "repeated", "ongoing": "yes", "location": "home",
        "perpetrator_status": "neighbour", "immediate_risk": True, "risk_level": "high",
        "first_contact_due_at": "2020-05-02T12:00:00Z", "first_contact_at": None,
        "review_due_at": "2020-08-01T12:00:00Z",
        "consents": [
            {"scope": "police", "granted": True, "wording_version": "consent-v2", "recorded_at": "2020-05-01T12:00:00Z"},
            {"scope": "other_agencies", "granted": False, "wording_version": "consent-v2",
             "recorded_at": "2020-05-01T12:00:00Z"},
        ],
        "referrals": [{"kind": "police", "basis": "consent", "reason": "consented", "status": "open",
                       "due_at": "2020-05-02T12:00:00Z"}],
        "work_orders": [{"kind": "graffiti_removal", "status": "open", "due_at": "2100-01-01T00:00:00Z",
                         "completed_at": None}],
    }


# --- Over HTTP ------------------------------------------------------------------------------

def _serve(settings, scenario, tokens: str = TOKENS):
    """Run ``scenario(get)`` against the real app, where ``get(path, token=...)`` returns (status,
    headers, body) after checking the body against docs/openapi.yaml and the common headers."""
    from aiohttp.test_utils import TestClient, TestServer

    from bot.web.app import make_app

    spec = load_spec()
    app_settings = replace(settings, rasa_public_url="http://127.0.0.1:5005", api_tokens=tokens)

    async def run():
        async with TestClient(TestServer(make_app(app_settings))) as client:
            async def get(path: str, token=POLICE_TOKEN, authorization=None):
                headers = {}
                if authorization is not None:
                    headers["Authorization"] = authorization
                elif token is not None:
                    headers["Authorization"] = f"Bearer {token}"
                r = await client.get(path, headers=headers)
                text = await r.text()
                assert r.headers["Content-Type"].startswith("application/json")
                assert r.headers["Cache-Control"] == "no-store"
                body = json.loads(text)
                template = "/api/cases" if path.split("?")[0] == "/api/cases" else "/api/cases/{reference}"
                check_against_spec(spec, template, r.status, body)
                for marker in (*MARKERS.values(), WORK_ORDER_LOCATION):
                    assert marker not in text
                return r.status, r.headers, body

            await scenario(get)

    asyncio.run(run())


def _api_entries(factory) -> list[AuditEntry]:
    with factory() as s:
        return list(s.execute(select(AuditEntry).where(AuditEntry.action.like("api_%")).order_by(AuditEntry.id))
                    .scalars())


def test_without_a_right_token_every_request_is_refused(factory, settings, caplog):
    _seed(factory)

    async def refused(get):
        for path in ("/api/cases", "/api/cases/AAA-AAA-AAA", "/api/cases/NOT-A-REF", "/api/cases?limit=nope"):
            status, headers, body = await get(path, token=None)
            assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
            assert body["error"] == "unauthorized"
            for header in ("Bearer wrong-token", f"Basic {POLICE_TOKEN}", f"Bearer {POLICE_TOKEN[:-1]}",
                           f"Bearer {POLICE_TOKEN}x", "Bearer", POLICE_TOKEN, f"Bearer policeportal:{POLICE_TOKEN}"):
                status, headers, body = await get(path, authorization=header)
                assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer"), header

    with caplog.at_level(logging.DEBUG):
        _serve(settings, refused)

    async def nothing_configured(get):
        for token in (POLICE_TOKEN, "", "anything"):
            status, headers, _ = await get("/api/cases", token=token)
            assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
        status, _, _ = await get("/api/cases/AAA-AAA-AAA")
        assert status == 401

    with caplog.at_level(logging.DEBUG):
        _serve(settings, nothing_configured, tokens="")
        _serve(settings, nothing_configured, tokens=" , ,")
    assert POLICE_TOKEN not in caplog.text and POLICE_TOKEN[:-1] not in caplog.text and COUNCIL_TOKEN not in caplog.text
    assert "API request refused" in caplog.text
    assert _api_entries(factory) == []


def test_a_case_by_reference_without_free_text_and_in_the_audit_log(factory, settings):
    _seed(factory)

    async def scenario(get):
        status, _, body = await get("/api/cases/AAA-AAA-AAA")
        assert status == 200 and body == _expected_a()
        status, _, body = await get("/api/cases/DDD-DDD-DDD", token=COUNCIL_TOKEN)
        assert status == 200 and body["first_contact_at"] == "2020-05-06T12:00:00Z"
        assert body["work_orders"] == [{"kind": "graffiti_removal", "status": "completed",
                                        "due_at": "2020-05-05T12:00:00Z", "completed_at": "2020-05-07T12:00:00Z"}]
        assert body["risk_level"] is None and body["incident_type"] is None and body["consents"] == []
        status, _, body = await get("/api/cases/NOT-A-REF")
        assert status == 404 and body["error"] == "not_found"

    _serve(settings, scenario)
    entries = [(e.actor, e.action, e.case_reference, e.details) for e in _api_entries(factory)]
    assert entries == [("api:policeportal", "api_case_read", "AAA-AAA-AAA", {}),
                       ("api:council", "api_case_read", "DDD-DDD-DDD", {})]


def test_the_list_filters_newest_first(factory, settings):
    _seed(factory)

    async def refs(get, query: str = "") -> list[str]:
        status, _, body = await get("/api/cases" + query)
        assert status == 200, body
        assert body["total"] == len(body["cases"]) and body["limit"] == 50 and body["offset"] == 0
        return [c["reference"] for c in body["cases"]]

    async def scenario(get):
        assert await refs(get) == ["DDD-DDD-DDD", "CCC-CCC-CCC", "BBB-BBB-BBB", "AAA-AAA-AAA"]
        status, _, body = await get("/api/cases")
        assert body["cases"][3] == _expected_a()
        assert await refs(get, "?status=closed") == ["CCC-CCC-CCC"]
        assert await refs(get, "?status=new") == ["DDD-DDD-DDD", "BBB-BBB-BBB", "AAA-AAA-AAA"]
        assert await refs(get, "?status=unknown_status") == []
        assert await refs(get, "?risk_level=high") == ["AAA-AAA-AAA"]
        assert await refs(get, "?risk_level=medium") == ["CCC-CCC-CCC"]
        assert await refs(get, "?immediate_risk=true") == ["AAA-AAA-AAA"]
        assert await refs(get, "?immediate_risk=false") == ["DDD-DDD-DDD", "CCC-CCC-CCC", "BBB-BBB-BBB"]
        assert await refs(get, "?channel=sms") == ["BBB-BBB-BBB"]
        assert await refs(get, "?channel=webchat") == ["DDD-DDD-DDD", "AAA-AAA-AAA"]
        assert await refs(get, "?submitted_from=2020-05-02") == ["DDD-DDD-DDD", "CCC-CCC-CCC", "BBB-BBB-BBB"]
        assert await refs(get, "?submitted_to=2020-05-02") == ["BBB-BBB-BBB", "AAA-AAA-AAA"]
        assert await refs(get, "?submitted_from=2020-05-02&submitted_to=2020-05-03") == ["CCC-CCC-CCC", "BBB-BBB-BBB"]
        assert await refs(get, "?submitted_to=2020-05-04") == ["DDD-DDD-DDD", "CCC-CCC-CCC", "BBB-BBB-BBB",
                                                                "AAA-AAA-AAA"]  # the whole day, to 23:59
        assert await refs(get, "?submitted_from=2020-05-01T12:00:01Z") == ["DDD-DDD-DDD", "CCC-CCC-CCC",
                                                                           "BBB-BBB-BBB"]
        assert await refs(get, "?submitted_to=2020-05-02T12:00:00%2B00:00") == ["BBB-BBB-BBB", "AAA-AAA-AAA"]
        assert await refs(get, "?submitted_to=2020-05-02T11:59:59") == ["AAA-AAA-AAA"]
        assert await refs(get, "?overdue=true") == ["BBB-BBB-BBB", "AAA-AAA-AAA"]
        assert await refs(get, "?overdue=false") == ["DDD-DDD-DDD", "CCC-CCC-CCC"]
        assert await refs(get, "?overdue=true&channel=webchat&risk_level=high&status=new&immediate_risk=true"
                                "&submitted_from=2020-05-01&submitted_to=2020-05-01") == ["AAA-AAA-AAA"]
        assert await refs(get, "?overdue=false&channel=sms") == []

        for query in ("status=NEW", "status=", "status=" + "a" * 21, "risk_level=extreme", "risk_level=",
                      "immediate_risk=yes", "immediate_risk=1", "channel=web%20chat", "submitted_from=yesterday",
                      "submitted_from=2020-13-01", "submitted_to=2020-05-32", "submitted_from=2020-05-03&submitted_to=2020-05-02",
                      "overdue=maybe", "limit=0", "limit=201", "limit=ten", "limit=-1", "offset=-1", "offset=x",
                      "risk=high", "status=new&status=closed"):
            status, _, body = await get(f"/api/cases?{query}")
            assert status == 400, query
            assert body["error"] == "bad_request" and body["message"], query
        status, _, body = await get("/api/cases?limit=201")
        assert "limit" in body["message"] and "200" in body["message"]
        status, _, body = await get("/api/cases?risk=high")
        assert "'risk'" in body["message"]

    _serve(settings, scenario)
    entries = _api_entries(factory)
    assert {e.action for e in entries} == {"api_cases_listed"}
    assert all(e.actor == "api:policeportal" and e.case_reference is None for e in entries)
    first = entries[0].details
    assert first == {"filters": {}, "limit": 50, "offset": 0, "total": 4,
                     "references": ["DDD-DDD-DDD", "CCC-CCC-CCC", "BBB-BBB-BBB", "AAA-AAA-AAA"]}
    assert any(e.details["filters"] == {"risk_level": "high"} and e.details["references"] == ["AAA-AAA-AAA"]
               for e in entries)
    assert any(e.details["filters"] == {"overdue": True} for e in entries)
    # Refused requests (400) are not reads: the 22 successful lists above are all there is.
    assert len(entries) == 22


def test_the_list_in_pages(factory, settings):
    _seed(factory)

    async def scenario(get):
        pages = []
        for offset in (0, 2, 4, 10):
            status, _, body = await get(f"/api/cases?limit=2&offset={offset}")
            assert status == 200 and body["total"] == 4 and body["limit"] == 2 and body["offset"] == offset
            pages.append([c["reference"] for c in body["cases"]])
        assert pages == [["DDD-DDD-DDD", "CCC-CCC-CCC"], ["BBB-BBB-BBB", "AAA-AAA-AAA"], [], []]
        status, _, body = await get("/api/cases?limit=1&offset=1&channel=webchat")
        assert [c["reference"] for c in body["cases"]] == ["AAA-AAA-AAA"] and body["total"] == 2
        status, _, body = await get("/api/cases?limit=200")
        assert status == 200 and body["limit"] == 200 and len(body["cases"]) == 4

    _serve(settings, scenario)
    details = [e.details for e in _api_entries(factory)]
    assert [(d["limit"], d["offset"], d["references"]) for d in details[:4]] == [
        (2, 0, ["DDD-DDD-DDD", "CCC-CCC-CCC"]), (2, 2, ["BBB-BBB-BBB", "AAA-AAA-AAA"]), (2, 4, []), (2, 10, [])]
