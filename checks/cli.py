"""`registry check-url`: check URLs from the command line, without the database."""

from __future__ import annotations

import json
import time
from collections import Counter

import click

from checks.report import Report
from checks.run import iter_check_urls, url_problem
from checks.settings import CheckSettings, SettingsError


class BadSetting(click.ClickException):
    exit_code = 2


def _read_urls(urls: tuple[str, ...], source) -> list[str]:
    found = list(urls)
    if source is not None:
        for line in source:
            line = line.strip()
            if line and not line.startswith("#"):
                found.append(line)
    return found


def _describe(report: Report) -> str:
    lv, hs, pv = report.liveness, report.https, report.privacy
    head = f"{report.verdict.upper():4}  {report.url}"
    if report.final_url != report.url:
        head += f" -> {report.final_url}"
    bits = [f"HTTP {lv.http_status}"] if lv.http_status else []
    if lv.redirects:
        bits.append(f"{lv.redirects} redirect{'s' if lv.redirects > 1 else ''}")
    bits.append(f"{lv.elapsed_ms} ms")
    live = f"liveness: {lv.status} ({', '.join(bits)})"
    sec_bits = []
    if hs.redirects_http_to_https is not None:
        sec_bits.append(
            "http redirects to https" if hs.redirects_http_to_https else "no http->https redirect"
        )
    if hs.hsts is not None:
        sec_bits.append("HSTS" if hs.hsts else "no HSTS")
    if hs.cert_days_left is not None:
        sec_bits.append(f"certificate valid {hs.cert_days_left} more days")
    sec = f"https: {hs.status}" + (f" ({', '.join(sec_bits)})" if sec_bits else "")
    priv = f"privacy: {pv.status}" + (f" {pv.policy_url}" if pv.policy_url else "")
    lines = [head]
    for text, detail in ((live, lv.detail), (sec, hs.detail), (priv, pv.detail)):
        lines.append(f"      {text}" + (f" - {detail}" if detail else ""))
    return "\n".join(lines)


@click.command("check-url")
@click.argument("urls", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report per line.")
@click.option(
    "--from",
    "source",
    type=click.File("r", encoding="utf-8-sig"),
    help="Read URLs from FILE, one a line ('-' for standard input).",
)
@click.pass_context
def check_url(ctx: click.Context, urls: tuple[str, ...], as_json: bool, source) -> None:
    """Check URLs for liveness, HTTPS and a privacy policy, without the database.

    Exit status: 0 when every URL passed, 1 when any did not, 2 for bad usage.
    """
    try:
        settings = CheckSettings.from_env()
    except SettingsError as exc:
        raise BadSetting(str(exc)) from None
    targets = _read_urls(urls, source)
    if not targets:
        raise click.UsageError("give at least one URL, or --from FILE ('-' for standard input)")
    for url in targets:
        problem = url_problem(url)
        if problem:
            raise click.UsageError(f"cannot check {url!r}: {problem} (e.g. https://example.org/)")
    started = time.monotonic()
    verdicts: Counter[str] = Counter()
    for report in iter_check_urls(targets, settings=settings):
        verdicts[report.verdict] += 1
        out = json.dumps(report.to_dict(), ensure_ascii=False) if as_json else _describe(report)
        click.echo(out)
    took = time.monotonic() - started
    n = len(targets)
    click.echo(
        f"checked {n} URL{'s' if n != 1 else ''} in {took:.1f} s: {verdicts['pass']} passed, "
        f"{verdicts['warn']} warned, {verdicts['fail']} failed",
        err=True,
    )
    ctx.exit(0 if verdicts["pass"] == n else 1)
