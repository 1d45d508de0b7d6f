"""What the nightly job shows people: results in words, the history chart, the reviewers' dashboard."""

from bs4 import BeautifulSoup
from conftest import DOWN, HEALTHY, NO_POLICY, signed_in_reviewer
from sqlmodel import Session

from registry.db import get_engine
from registry.models import CheckResult


def _soup(response) -> BeautifulSoup:
    assert response.status_code == 200, response.data[:300]
    return BeautifulSoup(response.data, "html.parser")


def test_an_entry_shows_its_latest_result_in_words_and_a_chart_of_its_runs(
    sites, registry, run, job_app
):
    resource_id = registry.add_entry("alpha", sites.add("alpha"))
    for mode in (HEALTHY, DOWN, HEALTHY, NO_POLICY):
        sites.mode["alpha"] = mode
        run()
    soup = _soup(job_app.test_client().get(f"/resources/{resource_id}"))
    checks = soup.select_one(".registry-checks").get_text(" ", strip=True)
    assert "Online" in checks and "Secure connection (HTTPS)" in checks
    assert "No privacy policy could be found" in checks
    assert soup.select_one(".registry-caution") is None  # a warning is listed, not a failure banner
    chart = soup.select_one("svg.registry-chart")
    assert (
        chart["aria-label"]
        == "The last 4 automatic checks, oldest first: 2 passed, 1 with warnings, 1 failed."
    )
    bars = chart.find_all("rect")[1:]
    assert [bar["fill"] for bar in bars] == ["#007f3b", "#d5281b", "#007f3b", "#ffb81c"]
    rows = soup.select(".registry-history-chart tbody tr")
    assert [r.find_all("td")[1].get_text() for r in rows] == ["warn", "pass", "fail", "pass"]


def test_the_chart_keeps_to_the_last_30_runs(sites, registry, run, job_app):
    resource_id = registry.add_entry("alpha", sites.add("alpha"))
    with Session(get_engine(job_app)) as session:
        for _ in range(34):
            session.add(CheckResult(resource_id=resource_id, url="https://x/", verdict="pass", liveness_status="up",
                                    https_status="ok", privacy_status="found", report={}))  # fmt: skip
        session.commit()
    soup = _soup(job_app.test_client().get(f"/resources/{resource_id}"))
    assert len(soup.select_one("svg.registry-chart").find_all("rect")) == 31


def test_the_dashboard_lists_entries_by_trouble_with_counts(sites, registry, run, job_app):
    failing = registry.add_entry("falls", sites.add("falls", DOWN), state="suggested")
    registry.add_entry("gone", sites.add("gone", DOWN))
    fine = registry.add_entry("fine", sites.add("fine"))
    for _ in range(3):  # three nights
        run()
    with Session(get_engine(job_app)) as session:
        session.add(CheckResult(resource_id=fine, url="https://x/", verdict="warn", liveness_status="up",
                                https_status="ok", privacy_status="found",
                                report={"https": {"cert_days_left": 5}}))  # fmt: skip
        session.commit()
    reviewer = signed_in_reviewer(job_app)
    soup = _soup(reviewer.get("/review/dashboard"))
    counts = [p.get_text(strip=True) for p in soup.select(".registry-count-number")]
    assert counts == ["2", "1", "1", "1"]

    def names(group: str) -> list[str]:
        table = soup.select_one(f'table[data-group="{group}"]')
        return [a.get_text() for a in table.select("a")] if table else []

    assert names("failing") == ["falls", "gone"]
    assert names("raised") == ["gone"]
    assert names("expiring") == ["fine"]
    assert (
        "Certificate expires in 5 days"
        in soup.select_one('table[data-group="expiring"]').get_text()
    )
    assert "failed" in soup.get_text() and failing
    assert job_app.test_client().get("/review/dashboard").status_code == 302
