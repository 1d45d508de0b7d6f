"""URL checks for the registry: liveness, HTTPS, privacy policy and app-store listings.

Pure library: no Flask, no database. ``check_url(url, settings=...)`` or
``check_target(Target(url, ios_url=..., android_url=...), settings=...)`` returns a Report;
``CheckBatch`` and ``iter_check_targets`` check many, queued per host.
"""

from checks.privacy import FINGERPRINT_SCHEME
from checks.report import Https, Liveness, Privacy, Report, Store
from checks.run import Target, check_target, check_url, url_problem
from checks.schedule import CheckBatch, check_urls, iter_check_targets, iter_check_urls
from checks.settings import CheckSettings, SettingsError

__all__ = [
    "FINGERPRINT_SCHEME",
    "CheckBatch",
    "CheckSettings",
    "Https",
    "Liveness",
    "Privacy",
    "Report",
    "SettingsError",
    "Store",
    "Target",
    "check_target",
    "check_url",
    "check_urls",
    "iter_check_targets",
    "iter_check_urls",
    "url_problem",
]
