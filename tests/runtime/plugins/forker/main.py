"""Starts a grandchild that would sleep forever and returns its pid."""

import subprocess


def run(boefje_meta: dict):
    child = subprocess.Popen(["sleep", "1000"])
    return [({"text/plain"}, str(child.pid))]
