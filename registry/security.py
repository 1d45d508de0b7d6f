"""Security headers on every response, and cookies that are Secure whenever the request was."""

from flask import Flask, Request, request
from flask.sessions import SecureCookieSessionInterface

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


class _SessionInterface(SecureCookieSessionInterface):
    """Mark the session cookie Secure when the page came over HTTPS (or when told to always)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or _is_https(request)


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
