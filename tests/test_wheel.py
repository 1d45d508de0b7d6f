"""The registry as a wheel: built, installed in a fresh environment, seeding and serving elsewhere."""

import os
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

from registry.exchange.seed import read_csv
from tests.pgserver import free_port

ROOT = Path(__file__).resolve().parent.parent
LEFT_OUT = (".git", ".venv", "build", "dist", "instance", "*.egg-info", "__pycache__", ".*_cache")


def _fresh_environment(tmp_path: Path) -> Path:
    """Make a virtual environment holding only the wheel; its dependencies are this one's."""
    # Built from a copy, so no build/ folder of the checkout's can slip stale files in.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(*LEFT_OUT))
    wheels = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = wheels.glob("smi_resource_registry-*.whl")
    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    # Flask and the rest come from the test environment's site-packages (a plain path, so its
    # own .pth files — the editable install of the source tree among them — are not run).
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv


def test_an_installed_wheel_seeds_and_serves_from_an_empty_folder(tmp_path):
    venv = _fresh_environment(tmp_path)
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH",) and not k.startswith("REGISTRY_")
    }
    env.pop("DATABASE_URL", None)
    env["REGISTRY_INSTANCE_PATH"] = str(folder / "instance")
    registry = str(venv / "bin" / "registry")

    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import registry; print(registry.__file__)"],
        cwd=folder, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert where.startswith(str(venv)), where  # the wheel's copy, not the source tree
    # The checker's data travels in the wheel too: the tracker list, and its licence beside it.
    named = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "from importlib import resources; from checks import trackers; "
         "print(trackers.lookup('www.google-analytics.com')[0]); "
         "print(resources.files('checks').joinpath('data/LICENSE-trackerdb').is_file())"],
        cwd=folder, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert named.stdout.split() == ["Google", "Analytics", "True"], named.stdout + named.stderr

    seeded = subprocess.run(
        [registry, "seed"], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )
    rows = len(read_csv(ROOT / "data" / "resources.csv"))
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    assert f"Added {rows} entries from {venv}" in seeded.stdout

    port = free_port()
    server = subprocess.Popen(
        [registry, "serve", "--port", str(port), "--no-scheduler"],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline, page = time.monotonic() + 60, ""
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
                    page = answer.read().decode()
                break
            except OSError:
                time.sleep(0.2)
        assert "No resource has been reviewed yet" in page, page[:500] or server.stdout.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/registry.css") as answer:
            assert answer.status == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
