"""`registry check-url`: check URLs from the command line, without the database."""

from __future__ import annotations

import json
import time
from collections import Counter

import click

from checks import contacts
from checks.report import Report, Store
from checks.run import Target, url_problem
from checks.schedule import iter_check_targets
from checks.settings import CheckSettings, SettingsError


class BadSetting(click.ClickException):
    exit_code = 2


class BadInput(click.UsageError):
    """A line of --from (or an argument) the checker cannot use; exit status 2."""


KEYS = ("url", "ios_url", "android_url", "phone_numbers")
EXAMPLE = '{"url": "https://example.org/", "ios_url": "https://apps.apple.com/app/id1"}'


def _url_problem(value: object, key: str) -> str | None:
    """Say what is wrong with one URL of a line, or None when it is fine."""
    if not isinstance(value, str):
        return f'"{key}" must be a string, e.g. "https://example.org/"'
    problem = url_problem(value)
    if problem:
        return f"cannot check {key} {value!r}: {problem} (e.g. https://example.org/)"
    return None


def _target_of_object(line: str) -> Target:
    """Build a Target from a JSON-object line, or raise ValueError saying what to fix."""
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"not valid JSON ({exc.msg} at column {exc.colno}); write one object a line, "
            f"such as {EXAMPLE}"
        ) from None
    if not isinstance(entry, dict):
        raise ValueError(f"give a JSON object, such as {EXAMPLE}")
    unknown = sorted(set(entry) - set(KEYS))
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}; a line may have {', '.join(KEYS)}")
    if "url" not in entry or not isinstance(entry["url"], str):
        raise ValueError(f'give the entry\'s address as "url", a string, such as {EXAMPLE}')
    for key in KEYS[:3]:
        if key == "url" or entry.get(key) is not None:
            problem = _url_problem(entry[key], key)
            if problem:
                raise ValueError(problem)
    numbers = entry.get("phone_numbers")
    numbers = [] if numbers is None else numbers
    if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
        raise ValueError('"phone_numbers" must be a list of strings, such as ["116 123"]')
    for number in numbers:
        contacts.parse(number)  # a NumberError says what is wrong with it
    return Target(
        entry["url"],
        ios_url=entry.get("ios_url"),
        android_url=entry.get("android_url"),
        phone_numbers=tuple(numbers),
    )


def _target_of_line(line: str) -> Target:
    """Build a Target from a line: a JSON object, or a plain URL."""
    if line.startswith("{"):
        return _target_of_object(line)
    problem = url_problem(line)
    if problem:
        raise ValueError(f"cannot check {line!r}: {problem} (e.g. https://example.org/)")
    return Target(line)


def _read_targets(urls: tuple[str, ...], source) -> list[Target]:
    """Read targets from the arguments, then from the lines of source; bad input exits 2."""
    found = []
    for url in urls:
        problem = url_problem(url)
        if problem:
            raise BadInput(f"cannot check {url!r}: {problem} (e.g. https://example.org/)")
        found.append(Target(url))
    if source is None:
        return found
    name = getattr(source, "name", "-")
    name = "standard input" if name in ("-", "<stdin>") or not isinstance(name, str) else name
    try:
        lines = source.read().split("\n")  # as an editor numbers them, not str.splitlines
    except UnicodeDecodeError as exc:
        raise BadInput(f"{name} is not UTF-8 text ({exc.reason}); save it as UTF-8") from None
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            found.append(_target_of_line(line))
        except ValueError as exc:
            raise BadInput(f"line {number} of {name}: {exc}") from None
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
    if pv.reading_ease is not None:
        priv += f" (reading ease {pv.reading_ease:g})"
    parts = [(live, lv.detail), (sec, hs.detail), (priv, pv.detail)]
    if pv.trackers:
        named = ", ".join(f"{t.name} ({t.host})" for t in pv.trackers)
        parts.append((f"trackers: {named}", ""))
    parts += [(_describe_store(store), store.detail) for store in report.stores]
    parts += [(f"number {c.number}: {c.status}", c.detail) for c in report.contacts]
    lines = [head]
    for text, detail in parts:
        lines.append(f"      {text}" + (f" - {detail}" if detail else ""))
    return "\n".join(lines)


def _describe_store(store: Store) -> str:
    bits = [f"HTTP {store.http_status}"] if store.http_status else []
    if store.version:
        bits.append(f"version {store.version}")
    if store.last_updated:
        bits.append(f"updated {store.last_updated}")
    return f"{store.store}: {store.status} {store.url}" + (f" ({', '.join(bits)})" if bits else "")


@click.command("check-url")
@click.argument("urls", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report per line.")
@click.option(
    "--from",
    "source",
    type=click.File("r", encoding="utf-8-sig"),
    help="Read URLs from FILE, one a line, or entries as JSON objects ('-' for standard input).",
)
@click.pass_context
def check_url(ctx: click.Context, urls: tuple[str, ...], as_json: bool, source) -> None:
    """Check URLs for liveness, HTTPS, a privacy policy and store listings, without the database.

    \b
    A line of --from FILE is a URL, or a JSON object describing an entry:
    {"url": "...", "ios_url": "...", "android_url": "...", "phone_numbers": ["116 123"]}
    (only url required). Lines starting with # are comments.

    Exit status: 0 when every URL passed, 1 when any did not, 2 for bad usage.
    """
    try:
        settings = CheckSettings.from_env()
    except SettingsError as exc:
        raise BadSetting(str(exc)) from None
    targets = _read_targets(urls, source)
    if not targets:
        raise click.UsageError("give at least one URL, or --from FILE ('-' for standard input)")
    started = time.monotonic()
    verdicts: Counter[str] = Counter()
    for report in iter_check_targets(targets, settings=settings):
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
