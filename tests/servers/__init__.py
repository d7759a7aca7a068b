"""Real servers on 127.0.0.1 for plugin tests: DNS, HTTP(S), TCP banners and bad targets.

Each server starts on a free port in background threads and stops with ``close()``;
``tests.servers.fixtures`` wraps them as pytest fixtures that other test folders import.
"""
