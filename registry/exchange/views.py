"""Download the registry: what the public sees by default for anyone, everything for staff."""

from flask import Blueprint, Response, request
from flask_login import current_user

from registry.accounts.auth import login_manager
from registry.db import get_session
from registry.exchange import services as exchange
from registry.review import panel

bp = Blueprint("exchange", __name__)

_DOWNLOADS = {
    "csv": ("text/csv; charset=utf-8", "registry.csv"),
    "json": ("application/json", "registry.json"),
    "hsds": ("application/json", "registry.hsds.json"),
}


def _download(fmt: str) -> Response:
    everything = request.args.get("all") == "1"
    if everything and not current_user.is_authenticated:
        return login_manager.unauthorized()  # the whole registry is for staff (visibility policy)
    proposals = everything and current_user.role in panel.SEES_PROPOSALS
    records = exchange.export_records(
        get_session(), recommended_only=not everything, proposals=proposals
    )
    mimetype, filename = _DOWNLOADS[fmt]
    if everything:
        filename = filename.replace("registry", "registry-all", 1)
    return Response(
        exchange.WRITERS[fmt](records),
        content_type=mimetype,
        headers={
            # A file to save, never a page: no browser renders or sniffs it as HTML or script.
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@bp.get("/export.csv")
def export_csv():
    return _download("csv")


@bp.get("/export.json")
def export_json():
    return _download("json")


@bp.get("/export.hsds.json")
def export_hsds():
    return _download("hsds")
