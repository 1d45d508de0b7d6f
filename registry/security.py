"""Security headers on every response, Secure cookies over HTTPS, and one guard for redirects."""

import unicodedata
from urllib.parse import unquote

from flask import Flask, Request, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

# Nothing inline, nothing from elsewhere: every script and style is a file the registry serves.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",  # for browsers that predate frame-ancestors
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000; includeSubDomains"


# A redirect target longer than this is refused: nothing the registry links to comes close.
MAX_TARGET_LENGTH = 2000
# Percent-decoding more often than this without the target settling is refused outright.
_DECODINGS = 4


def _stays_on_this_site(spelling: str) -> bool:
    """Return whether one spelling of a target is a plain path on this site."""
    for form in (spelling, unicodedata.normalize("NFKC", spelling)):
        if not form.startswith("/") or form[1:2] in ("/", "\\"):
            return False  # a scheme, a relative path, or "//host" and "/\\host", which leave
        if "\\" in form or any(unicodedata.category(ch).startswith("C") for ch in form):
            return False  # browsers read "\\" as "/" and drop tabs and newlines: "/\t/host"
        path = form.split("?", 1)[0].split("#", 1)[0]
        if any(segment in (".", "..") for segment in path.split("/")):
            return False  # "/../" could climb into "//host" once resolved
    return True


def safe_target(target: str | None, *, default: str) -> str:
    """Return target if it is a path on this site, in every spelling of it, else default.

    The one guard for every next/back redirect. Its own rule, not Werkzeug's quoting: plain
    printable ASCII, starting with one "/", never "//" or "/\\", no backslash, control character
    or dot segment, and the same again after each round of percent-decoding ("%2F%2Fhost",
    "%5C") and Unicode compatibility folding ("／／host").
    """
    if not target or len(target) > MAX_TARGET_LENGTH:
        return default
    if not all("!" <= ch <= "~" for ch in target):
        return default  # spaces, tabs, newlines and anything outside printable ASCII
    spelling = target
    for _ in range(_DECODINGS):
        if not _stays_on_this_site(spelling):
            return default
        try:
            decoded = unquote(spelling, errors="strict")
        except UnicodeDecodeError:
            return default  # percent-encoded bytes that are not text
        if decoded == spelling:
            return target
        spelling = decoded
    return default  # still decoding: no link of the registry's is encoded that deep


class _SessionInterface(SecureCookieSessionInterface):
    """Mark the session cookie Secure when the page came over HTTPS (or when told to always).

    The cookie's signer is made once per set of keys, not on every request as Flask's is: for
    a first visit, making it again cost about as much as signing the cookie.
    """

    def __init__(self) -> None:
        self._signers: dict[tuple, URLSafeTimedSerializer | None] = {}

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or _is_https(request)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if keys not in self._signers:  # a race makes two alike: either will do
            self._signers = {keys: super().get_signing_serializer(app)}  # only the keys in use
        return self._signers[keys]


def _is_https(req: Request) -> bool:
    return req.is_secure


def _headers(response):
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if _is_https(request):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    """Send the security headers on every response and make cookies Secure over HTTPS."""
    app.session_interface = _SessionInterface()
    app.after_request(_headers)
    proxies = app.config["REGISTRY_TRUSTED_PROXIES"]
    if proxies:
        # Behind that many reverse proxies, take the client's address (for sign-in limits) and
        # the scheme (HTTPS: HSTS, Secure cookies) from their X-Forwarded-* headers. Never by
        # default: without a proxy, anyone could send those headers.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies
        )
