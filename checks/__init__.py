"""URL checks for the registry: liveness, HTTPS and privacy policy, safe against hostile servers.

Pure library: no Flask, no database. ``check_url(url, settings=...)`` returns a Report.
"""

from checks.report import Https, Liveness, Privacy, Report
from checks.run import check_url, check_urls, iter_check_urls, url_problem
from checks.settings import CheckSettings, SettingsError

__all__ = [
    "CheckSettings",
    "Https",
    "Liveness",
    "Privacy",
    "Report",
    "SettingsError",
    "check_url",
    "check_urls",
    "iter_check_urls",
    "url_problem",
]
