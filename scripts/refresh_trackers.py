#!/usr/bin/env python3
"""Rebuild checks/data/trackers.json from Ghostery's TrackerDB, fetched with `npm pack`.

    python scripts/refresh_trackers.py            # the newest @ghostery/trackerdb
    python scripts/refresh_trackers.py 1.0.945    # a chosen version

Needs npm (the npm registry is reached as for any package). Writes the compact table the
checker reads (checks/data/trackers.json), the list's licence beside it and the README that
names the version: commit all three together.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@ghostery/trackerdb"
DATA = Path(__file__).resolve().parent.parent / "checks" / "data"
EXPECTED_LICENCE = "CC-BY-NC-SA-4.0"

README = """\
# The tracker list

`trackers.json` names the third-party trackers that `checks/trackers.py` reports in
`privacy.trackers`. It is built from **Ghostery's TrackerDB** (`{package}` on npm, version
**{version}**, <https://github.com/ghostery/trackerdb>), © Ghostery GmbH, licensed under
**{licence}** (Creative Commons Attribution-NonCommercial-ShareAlike 4.0; the licence text
Ghostery ships is `LICENSE-trackerdb` beside this file, the full licence is at
<https://creativecommons.org/licenses/by-nc-sa/4.0/>).

`trackers.json` is an adaptation of that database: only each pattern's name, category and
domains are kept ({domains} domains, {trackers} trackers). Under the licence's ShareAlike term it
is itself licensed under {licence}, not under the project's MIT licence, and under its
NonCommercial term it may not be used for commercial purposes. Ghostery's logos and marks are not
covered by the licence and are not used.

Format: `trackers` is a list of `[name, category]`; `domains` maps a domain to its tracker's
index in that list. A host matches the most specific domain it is, or is under. Every category
is kept, so that a host is never named by a parent domain's entry when its own is more specific;
`checks/trackers.py` (`REPORTED`) reports advertising, site analytics, social media, customer
interaction, audio/video players, adult advertising and unclassified trackers, and leaves out
hosting (CDNs), utilities (site tools such as Adobe's tag manager or Typekit fonts), consent
managers and browser extensions.

To refresh it (npm needed; nothing is fetched at run time):

    .venv/bin/python scripts/refresh_trackers.py            # the newest version
    .venv/bin/python scripts/refresh_trackers.py 1.0.945    # a chosen one

then run `tests/checks/test_trackers.py` and commit the three files together. Check the
licence the script prints: it stops if the package's licence is no longer {licence}.
"""


def pack(version: str | None, into: Path) -> Path:
    """Fetch the package tarball with npm pack; return the unpacked package folder."""
    spec = f"{PACKAGE}@{version}" if version else PACKAGE
    out = subprocess.run(
        ["npm", "pack", "--json", spec], cwd=into, check=True, capture_output=True, text=True
    )
    tarball = into / json.loads(out.stdout)[0]["filename"]
    with tarfile.open(tarball) as tar:
        tar.extractall(into, filter="data")
    return into / "package"


def convert(db: dict) -> dict:
    """Keep, of each pattern that names domains, its name, category and domains."""
    index: dict[str, int] = {}
    trackers: list[list[str]] = []
    domains: dict[str, int] = {}
    for key in sorted(db["patterns"]):
        pattern = db["patterns"][key]
        names = sorted({d.strip().lower().rstrip(".") for d in pattern.get("domains") or []})
        if not names:
            continue
        index[key] = len(trackers)
        trackers.append([pattern["name"], pattern["category"]])
        for domain in names:
            domains.setdefault(domain, index[key])
    return {"trackers": trackers, "domains": dict(sorted(domains.items()))}


def dump(meta: dict, table: dict) -> str:
    """Write the table as JSON, one tracker or domain a line, so that a refresh diffs well."""
    lines = ["{"]
    lines += [f"{json.dumps(k)}: {json.dumps(v)}," for k, v in meta.items()]
    lines.append('"trackers": [')
    items = [json.dumps(t, ensure_ascii=False) for t in table["trackers"]]
    lines.append(",\n".join(items))
    lines.append("],")
    lines.append('"domains": {')
    lines.append(",\n".join(f"{json.dumps(d)}: {i}" for d, i in table["domains"].items()))
    lines.append("}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    version = argv[1] if len(argv) > 1 else None
    with tempfile.TemporaryDirectory() as tmp:
        package = pack(version, Path(tmp))
        manifest = json.loads((package / "package.json").read_text())
        licence = manifest.get("license", "")
        if licence != EXPECTED_LICENCE:
            print(
                f"{PACKAGE} {manifest['version']} is licensed {licence!r}, not "
                f"{EXPECTED_LICENCE}: read its terms and update this script and README first.",
                file=sys.stderr,
            )
            return 1
        db = json.loads((package / "dist" / "trackerdb.json").read_text())
        table = convert(db)
        meta = {"list": PACKAGE, "version": manifest["version"], "licence": licence}
        DATA.mkdir(parents=True, exist_ok=True)
        (DATA / "trackers.json").write_text(dump(meta, table), encoding="utf-8")
        (DATA / "LICENSE-trackerdb").write_text((package / "LICENSE").read_text())
        readme = README.format(
            package=PACKAGE,
            version=manifest["version"],
            licence=licence,
            domains=len(table["domains"]),
            trackers=len(table["trackers"]),
        )
        (DATA / "README.md").write_text(readme, encoding="utf-8")
    print(
        f"{PACKAGE} {meta['version']} ({licence}): {len(table['trackers'])} trackers, "
        f"{len(table['domains'])} domains written to {DATA / 'trackers.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
