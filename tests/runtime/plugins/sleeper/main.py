"""Sleeps far past its one-second limit."""

import time


def run(boefje_meta: dict):
    time.sleep(60)
    return []
