"""Yields something that is not an OOI."""


def run(input_ooi: dict, raw: bytes):
    yield {"object_type": "Hostname"}
