"""A short load test: Locust (bench/locustfile.py) drives whole report journeys through nginx against
the production profile (two Rasa servers and two action servers, PostgreSQL and Redis).

Ten people at once for about 25 seconds, then each finishes the journey it is on. Every message
gets a well-formed reply (no error, no 5xx, no rate-limit refusal), every journey that completed
filed its own case and no other case was made, and no process logged a Traceback. No timings are
asserted: the figures (one instance against two, 50 people for two minutes) are `make bench`'s
(bench/load.py).
"""
from __future__ import annotations

import pytest

from bench.load import cases, run_locust

pytestmark = pytest.mark.integration

USERS = 10
SECONDS = 25


@pytest.fixture(scope="module")
def prod(production_stack):
    return production_stack


@pytest.fixture(scope="module")
def run(prod, tmp_path_factory) -> dict:
    return run_locust(prod.rasa_url, USERS, SECONDS, tmp_path_factory.mktemp("locust"))


def test_every_message_got_a_well_formed_reply(run):
    assert run["messages"], "Locust sent nothing"
    failed = [m for m in run["messages"] if not m[2]]
    assert not failed, run["errors"]
    assert not [m for m in run["messages"] if m[3] >= 500]
    assert {m[3] for m in run["messages"]} == {200}


def test_every_journey_that_started_completed_with_a_reference(run):
    assert run["journeys"], "no journey ended"
    assert all(ok and reference for _, _, ok, _, reference in run["journeys"]), run["errors"]


def test_each_completed_journey_filed_its_own_case_and_no_other(run, prod):
    made = cases(prod.settings.database_url)  # reference -> conversation id
    done = {reference: sender for _, _, ok, sender, reference in run["journeys"] if ok}
    assert len(done) == len(run["journeys"])  # references are never shared
    assert {ref: made.get(ref) for ref in done} == done
    assert len(made) == len(done)


def test_no_process_logged_a_traceback(run, prod):
    logs = prod.logs()
    assert "Traceback" not in logs
    assert "Failed to execute custom action" not in logs
