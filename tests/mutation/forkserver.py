"""A pre-warmed pytest for mutation testing: the third-party imports are paid once, not per mutant.

cosmic-ray runs its test command once per mutant; most of each run was Python importing pytest,
hypothesis, pydantic, kopf and friends (about 2 s of the 2.5 s a mutant took). The server imports
those once, then forks a fresh child per request that runs ``pytest.main``. The child imports every
``epj`` module and test module itself, from disk, so it sees the mutant cosmic-ray just wrote; only
modules outside the repository are inherited. Bytecode is not written or trusted for repository
the module being mutated (``EPJ_MUTATED_MODULE``, relative to the root): its cached ``.pyc`` is removed
before each run, so a mutant of the same size written within the same second as another cannot be
masked by a stale ``.pyc``. Other repository files keep their bytecode and assertion-rewrite caches.

    python tests/mutation/forkserver.py serve SOCKET -- PYTEST_ARGS   # warm up on these tests, then serve
    python tests/mutation/forkserver.py run SOCKET -- PYTEST_ARGS     # one run; exit code is pytest's

A run that outlives ``CHILD_TIMEOUT_S`` is killed and counts as a failure (cosmic-ray counts a
timeout as killed too). The server outlives any one run: a client that went away never stops it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Below cosmic-ray's own timeout (90 s in mutate.py): the child is stopped and its verdict sent while the
#: client still listens. Were it longer, cosmic-ray would kill the client first and the reply would hit a
#: closed socket.
CHILD_TIMEOUT_S = 60


def _third_party_modules(pytest_args: list[str]) -> list[str]:
    """Module names a collection of these tests imports from outside the repository."""
    probe = (
        "import sys, json, pytest\n"
        f"pytest.main({pytest_args!r} + ['--collect-only', '-q'])\n"
        f"root = {str(ROOT)!r}\n"
        "names = []\n"
        "for name, mod in list(sys.modules.items()):\n"
        "    path = getattr(mod, '__file__', None) or ''\n"
        "    if name.split('.')[0] in ('epj', 'tests', 'conftest') or path.startswith(root):\n"
        "        continue\n"
        "    names.append(name)\n"
        "print('MODULES=' + json.dumps(names))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False).stdout
    for line in out.splitlines():
        if line.startswith("MODULES="):
            return list(json.loads(line.removeprefix("MODULES=")))
    return []


def _warm(pytest_args: list[str]) -> None:
    for name in _third_party_modules(pytest_args):
        try:
            __import__(name)
        except Exception:  # a module that fails to import on its own is simply not warmed
            continue


def _child(args: list[str]) -> None:
    """In the forked child: run pytest on the tree as it is on disk now, then exit with its code."""
    signal.alarm(CHILD_TIMEOUT_S)
    os.chdir(ROOT)
    mutated = os.environ.get("EPJ_MUTATED_MODULE")
    if mutated:  # never trust a cached .pyc of the module being mutated
        for cached in (ROOT / mutated).parent.glob(f"__pycache__/{Path(mutated).stem}.*.pyc"):
            cached.unlink(missing_ok=True)
    import pytest

    code = int(pytest.main(args))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def serve(sock_path: str, warm_args: list[str]) -> None:
    _warm(warm_args)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        Path(sock_path).unlink(missing_ok=True)
        server.bind(sock_path)
        server.listen(1)
        while True:
            conn, _ = server.accept()
            with conn:
                args = json.loads(conn.makefile("r").readline())
                pid = os.fork()
                if pid == 0:
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, 1)
                    os.dup2(devnull, 2)
                    _child(args)
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
                try:
                    conn.sendall(f"{code}\n".encode())
                except OSError:
                    # The client is gone (cosmic-ray gave up on it). Keep serving: a dead server would make
                    # every later run fail to connect, and each such failure would count as a killed mutant.
                    continue


def run(sock_path: str, args: list[str]) -> int:
    """One run through the server; without an answer from it, the same run in a plain pytest process.

    A missing server (its folder removed, a crash) must never read as a failing test run: cosmic-ray
    counts every non-zero exit as a killed mutant, so the fallback keeps the verdict true, only slower.
    """
    reply = ""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(sock_path)
            client.sendall((json.dumps(args) + "\n").encode())
            reply = client.makefile("r").readline().strip()
    except OSError:
        reply = ""
    if not reply:
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "pytest", *args])
    code = int(reply)
    return 1 if code < 0 else code  # killed by a signal (timeout): the mutant is caught


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] not in ("serve", "run") or "--" not in argv:
        print("usage: forkserver.py serve|run SOCKET -- PYTEST_ARGS", file=sys.stderr)
        return 2
    mode, sock_path = argv[0], argv[1]
    args = argv[argv.index("--") + 1 :]
    if mode == "serve":
        serve(sock_path, args)
        return 0
    return run(sock_path, args)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
