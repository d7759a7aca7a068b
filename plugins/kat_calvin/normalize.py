"""calvin-normalize: Calvin's log events (a JSON list) into declared Applications and
Incidents.

Each event declares its application (``client_environment_app``) and an Incident on it:
``eventId``, ``severity``, ``eventTitle`` and ``eventType`` become its fields, every
other key of the event goes into ``meta_data`` as it came. Declarations, as OpenKAT's:
they need no input object.
"""

from __future__ import annotations

from collections.abc import Iterator

from kat.ooi import OOI, Application, Incident, declare
from kat.pluginkit import json_raw, raw_shape

_FIELDS = {"eventId": "event_id", "severity": "severity", "eventTitle": "event_title",
           "eventType": "event_type"}  # fmt: skip


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    with raw_shape("calvin raw"):
        yield from _objects(input_ooi, raw)


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    events = json_raw(raw, "calvin raw: not JSON")
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list):
        raise ValueError(f"calvin raw: expected a list of events, got {type(events).__name__}")
    for i, event in enumerate(events):
        needed = ["client_environment_app", *_FIELDS]
        if not isinstance(event, dict) or not set(needed) <= event.keys():
            raise ValueError(f"calvin raw: event {i} lacks one of {', '.join(needed)}")
        meta = dict(event)
        application = Application(name=meta.pop("client_environment_app"))
        fields = {name: meta.pop(key) for key, name in _FIELDS.items()}
        fields["event_id"] = str(fields["event_id"])
        yield declare(application)
        yield declare(Incident(application=application, **fields, meta_data=meta))
