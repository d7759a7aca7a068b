"""Who is asking: signed session cookies, CSRF tokens, roles and security headers.

Every console request gets a session: a cookie signed with a key kept in the data
folder (``console-secret``, made once, mode 0600), HttpOnly and SameSite=Strict, that
holds the user name, role and the CSRF token of the session. Every POST must carry the
same token in its ``csrf`` form field; a logged-out visitor gets a session too, so the
login form is protected alike. Operators may change things, viewers only read. The API
token (``KATALOGUS_API_TOKEN``) logs in as an operator named ``token``.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import tempfile
import threading
from pathlib import Path
from time import time as now
from typing import Any

import falcon
from itsdangerous import BadSignature, URLSafeTimedSerializer

from kat.console.users import User, Users

COOKIE = "kat_session"
#: A session lasts this long after login, in seconds.
MAX_AGE = 12 * 3600
PREFIX = "/console"
#: Console paths a visitor without a session may open.
PUBLIC = frozenset({f"{PREFIX}/login", f"{PREFIX}/static"})

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def secret_key(data_dir: Path) -> bytes:
    """The signing key, made once per data folder; gunicorn's workers race safely."""
    path = Path(data_dir) / "console-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".console-secret.")
        try:
            os.write(fd, secrets.token_hex(32).encode())
            os.close(fd)
            with contextlib.suppress(FileExistsError):  # another process made it first
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return path.read_bytes().strip()


#: Wrong passwords for one name within LOCKOUT seconds before that name is refused.
MAX_FAILURES, LOCKOUT = 10, 15 * 60
#: Largest console form accepted, in bytes.
MAX_FORM = 256 * 1024


class Refused(Exception):
    """A console request that is not allowed; shown as an HTML page with ``status``."""

    def __init__(self, status: str, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


class Sessions:
    def __init__(self, key: bytes, users: Users, api_token: str | None) -> None:
        self.serializer = URLSafeTimedSerializer(key, salt="kat-console-session")
        self.users, self.api_token = users, api_token
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}

    def load(self, req: falcon.Request) -> dict[str, Any]:
        raw = req.cookies.get(COOKIE)
        if raw:
            try:
                return self.serializer.loads(raw, max_age=MAX_AGE)
            except BadSignature:
                pass
        return {"csrf": secrets.token_urlsafe(24)}

    def save(self, req: falcon.Request, resp: falcon.Response, session: dict[str, Any]) -> None:
        """The cookie; Secure when the request came over HTTPS (or a proxy says so)."""
        secure = req.scheme == "https" or req.get_header("X-Forwarded-Proto") == "https"
        resp.set_cookie(
            COOKIE,
            self.serializer.dumps(session),
            max_age=MAX_AGE,
            path="/",
            secure=secure,
            http_only=True,
            same_site="Strict",
        )

    def user(self, session: dict[str, Any]) -> User | None:
        """The session's user, if still in the users file with the same role."""
        name = session.get("user")
        if name is None:
            return None
        if now() - float(session.get("since", 0)) > MAX_AGE:
            return None  # 12 hours after login, however active the session was
        if name == "token" and self.api_token and session.get("role") == "operator":
            return User("token", "operator")
        found = self.users.get(name)
        return found if found and found.role == session.get("role") else None

    def login(self, name: str, password: str) -> User | None:
        """The user these credentials name, or None. After :data:`MAX_FAILURES` wrong
        passwords for one name within :data:`LOCKOUT` seconds, that name is refused
        until the window ends (per server process), even with the right password."""
        key = name or "token"
        with self._lock:
            failures = [t for t in self._failures.get(key, []) if now() - t < LOCKOUT]
            self._failures[key] = failures
            if len(failures) >= MAX_FAILURES:
                raise Refused(
                    "429 Too Many Requests",
                    "Too many attempts",
                    f"too many wrong passwords for this name; try again in {LOCKOUT // 60} minutes",
                )
        user = self._check(name, password)
        if user is None:
            with self._lock:
                self._failures.setdefault(key, []).append(now())
        return user

    def _check(self, name: str, password: str) -> User | None:
        if not name and self.api_token:
            if hmac.compare_digest(password.encode(), self.api_token.encode()):
                return User("token", "operator")
            return None
        return self.users.authenticate(name, password) if name else None


class ConsoleAuth:
    """Falcon middleware for the console's paths (the API keeps its bearer token)."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not (req.path == PREFIX or req.path.startswith(PREFIX + "/")):
            return
        session = self.sessions.load(req)
        req.context.session = session
        req.context.user = self.sessions.user(session)
        if req.method == "POST":
            if (req.content_length or 0) > MAX_FORM:
                raise Refused(
                    falcon.HTTP_413, "Form too large", f"forms are at most {MAX_FORM} bytes"
                )
            form = req.get_media(default_when_empty={}) if req.content_length else {}
            req.context.form = form if isinstance(form, dict) else {}
            given = str(req.context.form.get("csrf", ""))
            if not hmac.compare_digest(given.encode(), session["csrf"].encode()):
                raise Refused(
                    falcon.HTTP_403,
                    "Form refused",
                    "the form's CSRF token is missing or stale; reload the page and try again",
                )
        public = any(req.path.startswith(p) for p in PUBLIC)
        if req.context.user is None and not public:
            raise falcon.HTTPSeeOther(f"{PREFIX}/login")

    def process_response(self, req, resp, resource, req_succeeded: bool) -> None:
        if not (req.path == PREFIX or req.path.startswith(PREFIX + "/")):
            return
        for name, value in HEADERS.items():
            resp.set_header(name, value)
        if not req.path.startswith(f"{PREFIX}/static"):
            resp.set_header("Cache-Control", "no-store")
        session = getattr(req.context, "session", None)
        if session is not None:
            self.sessions.save(req, resp, session)


def require_operator(req: falcon.Request) -> User:
    user = req.context.user
    if user is None or not user.operator:
        raise Refused(
            falcon.HTTP_403, "Read only", "viewers cannot change anything; ask an operator"
        )
    return user


def show_refusal(req: falcon.Request, resp: falcon.Response, exc: Refused, params) -> None:
    """Falcon error handler: the refusal as a console page (the API's errors stay JSON)."""
    from kat.console import render

    render.page(req, resp, "error.html", status=exc.status, message=exc.message, flash=None)
