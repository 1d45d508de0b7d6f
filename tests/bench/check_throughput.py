"""Benchmark: `registry check-url --from` on 1,000 local sites, beside LinkChecker and linkinator.

The sites are the farm of tests/bench/farm.py: each on its own loopback address (127.10.x.y),
plain HTTP redirecting to HTTPS (a certificate from a throwaway CA), a home page linking a
privacy policy, every answer after the set latency (50 ms). The checker, LinkChecker and
linkinator run one after the other against the same sites, all at the same concurrency (64:
REGISTRY_CHECK_CONCURRENCY, `--threads`, `--concurrency`). Each is measured for wall time, CPU
time (the command and every process under it), peak memory (the summed RSS of its process
tree, polled every 20 ms) and the requests the sites saw.

    .venv/bin/python tests/bench/check_throughput.py [--sites 1000] [--latency 0.05]
        [--concurrency 64]

LinkChecker comes from `pip install linkchecker` (skipped if missing). linkinator 8 (npm) is
installed by the script itself into tests/bench/.linkinator the first time, with a Node.js 22
from npm beside it if the machine's is older than linkinator needs (skipped if npm is missing).
linkinator checks liveness only: it fetches each URL and skips the two links on the page.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import farm

ROOT = Path(__file__).resolve().parents[2]
LINKINATOR_DIR = Path(__file__).resolve().parent / ".linkinator"
LINKINATOR = "linkinator@8"

# The targets.
LINKCHECKER_WALL_RATIO = 0.5
FLOOR_RATIO = 2.0
PEAK_MIB = 150


@dataclass
class Row:
    name: str
    m: farm.Measured
    requests: int
    farm_cpu: float
    note: str
    ok: int  # URLs the tool found healthy


def checker_command() -> list[str]:
    registry = Path(sys.executable).parent / "registry"
    if registry.exists():
        probe = subprocess.run([str(registry), "check-url", "--help"], capture_output=True)
        if probe.returncode == 0:
            return [str(registry), "check-url"]
    return [
        sys.executable,
        "-c",
        os.environ.get("BENCH_PRELUDE", "") + "from checks.cli import check_url; check_url()",
    ]


def run(f: farm.Farm, cmd: list[str], env: dict, *, stdin=None, out: Path):
    """Run one tool against the farm: (measurement, requests the sites saw, farm CPU)."""
    before, farm_cpu = f.requests(), f.cpu()
    with open(out, "wb") as sink:
        m = farm.measure(cmd, env, stdin=stdin, stdout=sink)
    farm_cpu = f.cpu() - farm_cpu
    made = f.requests() - before
    return m, made, farm_cpu


# --- the three tools -------------------------------------------------------------------------


def run_checker(f, urls, env, work, concurrency) -> Row:
    (work / "urls.txt").write_text("\n".join(urls) + "\n")
    env = {**env, "REGISTRY_CHECK_CONCURRENCY": str(concurrency)}
    cmd = checker_command() + ["--json", "--from", str(work / "urls.txt")]
    m, made, farm_cpu = run(f, cmd, env, out=work / "reports.jsonl")
    verdicts: dict[str, int] = {}
    for line in (work / "reports.jsonl").read_text().splitlines():
        v = json.loads(line)["verdict"]
        verdicts[v] = verdicts.get(v, 0) + 1
        if v != "pass" and verdicts[v] <= 3:
            print("not passed:", line, file=sys.stderr)
    if m.code not in (0, 1):
        print(m.stderr, file=sys.stderr)
    note = f"exit {m.code}, {verdicts}; {m.seen}"
    return Row("registry check-url (3 checks)", m, made, farm_cpu, note, verdicts.get("pass", 0))


def run_linkchecker(f, urls, env, work, concurrency) -> Row | None:
    linkchecker = shutil.which("linkchecker") or str(Path(sys.executable).parent / "linkchecker")
    if not Path(linkchecker).exists():
        print("linkchecker not found: pip install linkchecker to compare", file=sys.stderr)
        return None
    cfg = work / "linkcheckerrc"
    cfg.write_text(f"[checking]\nsslverify={f.ca}\n")
    cmd = [linkchecker, "-r", "0", "--check-extern", "--no-status", "--threads", str(concurrency),
           "-f", str(cfg), "--stdin"]  # fmt: skip
    stdin = "\n".join(urls).encode()
    m, made, farm_cpu = run(f, cmd, env, stdin=stdin, out=work / "linkchecker.txt")
    summary = (work / "linkchecker.txt").read_text().strip().splitlines()
    line = next((x for x in summary if "URLs checked" in x), "")
    errors = re.search(r"(\d+) errors? found", line)
    ok = len(urls) if errors and errors.group(1) == "0" else 0
    note = f"exit {m.code}; {line.removeprefix('That' + chr(39) + 's it. ')}"
    return Row("linkchecker -r 0 --check-extern (fetch only)", m, made, farm_cpu, note, ok)


def _major(version: str) -> int:
    return int(re.search(r"\d+", version).group())


def install_linkinator(folder: Path) -> list[str] | str:
    """Return the command that runs linkinator, installing it first; or why it cannot run."""
    npm = shutil.which("npm")
    package = folder / "node_modules" / "linkinator" / "package.json"
    if not package.exists():
        if npm is None:
            return "npm not found: install Node.js and npm to compare with linkinator"
        print(f"installing {LINKINATOR} into {folder} ...", file=sys.stderr)
        folder.mkdir(exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", LINKINATOR],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or not package.exists():
            return f"npm install {LINKINATOR} failed:\n{done.stdout}{done.stderr}"
    meta = json.loads(package.read_text())
    script = folder / "node_modules" / "linkinator" / meta["bin"]["linkinator"]
    needs = _major(meta.get("engines", {}).get("node", "0"))
    for node in (folder / "node_modules" / "node" / "bin" / "node", shutil.which("node")):
        if node and Path(node).exists():
            version = subprocess.run([str(node), "--version"], capture_output=True, text=True)
            if version.returncode == 0 and _major(version.stdout) >= needs:
                return [str(node), str(script)]
    # linkinator 8 needs Node.js 22; npm's `node` package is that runtime, kept beside it.
    if npm is None:
        return f"linkinator needs Node.js {needs} or newer, and npm is not here to install it"
    print(f"installing node@{needs} (linkinator needs it) into {folder} ...", file=sys.stderr)
    done = subprocess.run(
        [npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", f"node@{needs}"],
        capture_output=True,
        text=True,
    )
    node = folder / "node_modules" / "node" / "bin" / "node"
    if done.returncode != 0 or not node.exists():
        return f"npm install node@{needs} failed:\n{done.stdout}{done.stderr}"
    return [str(node), str(script)]


def run_linkinator(f, urls, env, work, concurrency, folder: Path) -> Row | None:
    cmd = install_linkinator(folder)
    if isinstance(cmd, str):
        print(f"linkinator skipped: {cmd}", file=sys.stderr)
        return None
    version = subprocess.run([*cmd, "--version"], capture_output=True, text=True).stdout.strip()
    node = subprocess.run([cmd[0], "--version"], capture_output=True, text=True).stdout.strip()
    # Without recursion linkinator still checks the links on each start page: skipping the
    # two the home page has leaves one URL each (the redirect to HTTPS is followed).
    cmd += [*urls, "--concurrency", str(concurrency), "--skip", "/(about|privacy)$",
            "--format", "json", "--timeout", "30000"]  # fmt: skip
    env = {**env, "NODE_EXTRA_CA_CERTS": str(f.ca)}
    m, made, farm_cpu = run(f, cmd, env, out=work / "linkinator.json")
    try:
        links = json.loads((work / "linkinator.json").read_text())["links"]
    except (ValueError, KeyError):
        print("linkinator wrote no JSON:", m.stderr[-2000:], file=sys.stderr)
        links = []
    states: dict[str, int] = {}
    for link in links:
        states[link["state"]] = states.get(link["state"], 0) + 1
    note = f"exit {m.code}, {states}; linkinator {version} on Node.js {node}"
    return Row("linkinator (liveness only)", m, made, farm_cpu, note, states.get("OK", 0))


# --- the report ------------------------------------------------------------------------------


def ratios(name: str, mine: Row, other: Row | None) -> str:
    if other is None:
        return f"project / {name}: not run"
    return (
        f"project / {name}: wall {mine.m.wall / other.m.wall:.2f}, "
        f"CPU {mine.m.cpu / other.m.cpu:.2f}, memory {mine.m.peak_mb / other.m.peak_mb:.2f}"
    )


def report(args, load: float, settings: str, rows: list[Row], lc: Row | None, li: Row | None):
    c = args.concurrency
    print(
        f"{args.sites} sites, {args.latency * 1000:.0f} ms per answer, concurrency {c} for each tool"
    )
    print(f"checker settings: {settings}")
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f} when the run began")
    print(
        f"{'tool':46} {'wall s':>7} {'CPU s':>7} {'peak MiB':>8} {'PSS MiB':>8} "
        f"{'main HWM':>8} {'requests':>8} {'floor s':>7} {'wall/floor':>10} {'farm CPU':>8}  notes"
    )
    for r in rows:
        floor = r.requests * args.latency / c
        print(
            f"{r.name:46} {r.m.wall:7.2f} {r.m.cpu:7.2f} {r.m.peak_mb:8.1f} {r.m.pss_mb:8.1f} "
            f"{r.m.hwm_mb:8.1f} {r.requests:8d} {floor:7.2f} "
            f"{r.m.wall / floor if floor else 0:10.2f} {r.farm_cpu:8.2f}  {r.note}"
        )
    print(
        "peak MiB: the summed RSS of the command and all its descendants (PSS MiB: the same "
        "with pages they share counted once); main HWM: the command's own VmHWM; CPU: user + "
        "system of all of them; farm CPU: the site servers'"
    )
    mine = rows[0]
    floor = mine.requests * args.latency / c
    print(
        f"latency floor for the checker: {mine.requests} requests x {args.latency * 1000:.0f} ms"
        f" / {c} in flight = {floor:.2f} s; checker wall / floor = "
        f"{mine.m.wall / floor if floor else float('inf'):.2f}"
    )
    print(ratios("LinkChecker", mine, lc))
    print(ratios("linkinator", mine, li))
    against_lc = lc is not None and mine.m.wall / lc.m.wall < LINKCHECKER_WALL_RATIO
    targets = [
        (f"project/LinkChecker wall below {LINKCHECKER_WALL_RATIO}", against_lc, lc is None),
        (
            f"checker within {FLOOR_RATIO:g}x of the latency floor",
            mine.m.wall <= FLOOR_RATIO * floor,
            False,
        ),
        (f"peak memory of all processes under {PEAK_MIB} MiB", mine.m.peak_mb < PEAK_MIB, False),
        ("every URL passed", mine.ok == args.sites, False),
    ]
    said = (f"{t}: {'not run' if absent else 'yes' if ok else 'NO'}" for t, ok, absent in targets)
    print("targets: " + "; ".join(said))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--concurrency", type=int, default=64, help="for every tool (default 64)")
    ap.add_argument("--linkinator-dir", type=Path, default=LINKINATOR_DIR)
    args = ap.parse_args()

    load = os.getloadavg()[0]
    with farm.Farm(args.sites, args.latency) as f:
        work = f.dir
        urls = [farm.site_url(i) for i in range(args.sites)]
        env = {
            **os.environ,
            "REGISTRY_CHECK_ALLOW_NETWORKS": farm.ALLOW_NETWORKS,
            "REQUESTS_CA_BUNDLE": str(f.ca),
            "PYTHONPATH": str(ROOT),
        }
        settings = checker_settings({**env, "REGISTRY_CHECK_CONCURRENCY": str(args.concurrency)})
        rows = [run_checker(f, urls, env, work, args.concurrency)]
        lc = run_linkchecker(f, urls, env, work, args.concurrency)
        li = run_linkinator(f, urls, env, work, args.concurrency, args.linkinator_dir)
        rows += [r for r in (lc, li) if r is not None]
        report(args, load, settings, rows, lc, li)


def checker_settings(env: dict) -> str:
    """Say what the checker will run with, as far as this checkout's settings tell."""
    try:
        sys.path.insert(0, str(ROOT))
        from checks.settings import CheckSettings

        s = CheckSettings.from_env(env)
    except Exception as exc:  # the checker is being changed under us: say so, carry on
        return f"could not be read ({exc!r})"
    parts = [f"max_concurrency {s.max_concurrency}", f"max_per_host {s.max_per_host}"]
    if hasattr(s, "processes"):
        parts.append(f"worker processes {s.processes}")
    return ", ".join(parts)


if __name__ == "__main__":
    main()
