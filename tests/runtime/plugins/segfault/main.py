"""Reads address 0 through ctypes."""

import ctypes


def run(boefje_meta: dict):
    return [({"text/plain"}, ctypes.string_at(0))]
