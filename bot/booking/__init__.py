"""Calls with a housing officer (issue 4; Karin 4.24, 4.26-4.28; Karbon 3.4.1, 3.4.3).

- ``hours``: service hours (``OFFICE_HOURS``), UK bank holidays (``BANK_HOLIDAYS``), local time.
- ``slots``: who may be matched with whom, and the free slots to offer (``offers``).
- ``service``: booking, finding a booking behind its secret word, cancelling, rescheduling.
- ``officers``: officers from a YAML or CSV roster, the demo roster, the on-call officer.

No Rasa here: the actions call these.
"""
