# make run | make test | make bench — see README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := run

-include .env
export

VENV := .venv
PY := $(VENV)/bin/python
RASA := PYTHONPATH=$(CURDIR) SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=3 RASA_TELEMETRY_ENABLED=false $(VENV)/bin/rasa

.PHONY: run run-prod test bench setup venv translations migrate model validate test-stories test-py \
        extract-messages update-messages compile-messages check-messages lock clean

## Set-up: whatever is missing (venv, translations, database, model).
setup: venv translations migrate model

venv:
	@scripts/bootstrap

translations: compile-messages

migrate: venv
	@$(PY) -m bot migrate

model: venv
	@$(PY) -m bot model >/dev/null

## Start everything the bot needs; Ctrl-C stops it all.
run: setup
	@$(PY) -m bot run

## The production profile: RASA_INSTANCES Rasa and action servers behind nginx, on PostgreSQL and Redis
## (DATABASE_URL, TRACKER_DATABASE_URL and REDIS_URL must name them; see README "Deployment").
run-prod: setup
	@$(PY) -m bot run --production

## The whole test suite (CI runs exactly this).
test: setup validate test-stories test-py

validate:
	$(RASA) data validate --data data --domain domain.yml --config config.yml

test-stories:
	@rm -rf results/stories
	$(RASA) test core --model $$($(PY) -m bot model) --stories tests/stories \
	    --out results/stories --fail-on-prediction-errors --no-plot

test-py:
	$(PY) -m pytest

## Benchmarks, written as markdown under bench/results/.
bench: setup
	$(PY) -m bench

## Translations (Babel): extract the English source text, update and compile the catalogs.
extract-messages: venv
	$(PY) -m bot.i18n_catalogs extract

update-messages: extract-messages
	$(PY) -m bot.i18n_catalogs update

compile-messages: venv
	@$(PY) -m bot.i18n_catalogs compile

check-messages: venv
	$(PY) -m bot.i18n_catalogs check

## Re-pin every dependency from requirements.in (needs network access to PyPI).
lock:
	@scripts/lock

clean:
	rm -rf results var/*.db models/current.tar.gz
