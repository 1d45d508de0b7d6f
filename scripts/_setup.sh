# Sourced by scripts/serve and scripts/test: make .venv with the project installed, once.
# Usage: setup_venv [extra]   (extra: "test" installs the test tools too)
setup_venv() {
    local extra="${1:-}"
    local python="${PYTHON:-}"
    if [ -z "$python" ]; then
        for candidate in python3.13 python3.12 python3.11 python3; do
            if command -v "$candidate" >/dev/null 2>&1 &&
                "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
                python="$candidate"
                break
            fi
        done
    fi
    if [ -z "$python" ]; then
        echo "The registry needs Python 3.11 or newer; none was found (set PYTHON=/path/to/python3)." >&2
        return 1
    fi
    if [ ! -x .venv/bin/python ]; then
        echo "Creating .venv with $("$python" --version)…" >&2
        "$python" -m venv .venv
    fi
    local stamp=".venv/.installed-${extra:-base}"
    local wanted
    # Reinstall when the dependencies or the set of top-level packages change.
    wanted="$( (cat pyproject.toml; ls -d -- */__init__.py) | sha256sum | cut -c1-16)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
        echo "Installing the registry and its dependencies into .venv…" >&2
        .venv/bin/python -m pip install --quiet --upgrade pip
        if [ -n "$extra" ]; then
            .venv/bin/python -m pip install --quiet --editable ".[$extra]"
        else
            .venv/bin/python -m pip install --quiet --editable .
        fi
        echo "$wanted" >"$stamp"
    fi
}
