"""Fixtures: a real ``aecl serve`` (the binary of ``AECL_BIN``, default
``target/debug/aecl``) over the test policy in ``tests/policy``, with keys from
``aecl keys generate`` and tokens from ``aecl token issue``, as a user starts it.

``approver`` answers approval requests through the HTTP API with an approver token,
from another thread, the way a human would from the web page.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pytest

import aecl

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
POLICY = HERE / "policy"
AGENT = "py_agent"
OTHER_AGENT = "py_other"


def aecl_bin() -> str:
    path = os.environ.get("AECL_BIN") or str(REPO / "target" / "debug" / "aecl")
    if not Path(path).is_file():
        pytest.exit(f"no aecl binary at {path}: run `cargo build -p aecl-cli` or set AECL_BIN", 2)
    return path


def run_aecl(*args: str) -> str:
    out = subprocess.run([aecl_bin(), *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"aecl {' '.join(args)}: {out.stderr}"
    return out.stdout.strip()


@dataclass
class Server:
    url: str
    dir: Path
    process: subprocess.Popen
    agent_token: str
    approver_token: str
    # An approver token whose subject is the agent: it must never approve its own call.
    own_approver_token: str
    log: object = None
    # The token of another agent of the same policy.
    other_token: str = ""

    def agent(self, **kwargs) -> aecl.Client:
        return aecl.Client(self.url, self.agent_token, **kwargs)

    def approver(self) -> aecl.Client:
        return aecl.Client(self.url, self.approver_token)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self.log is not None:
            self.log.close()


def start_server(workdir: Path, policy: Path = POLICY) -> Server:
    for name, out in (("aecl.test/audit", "audit"), ("aecl.test/tokens", "tokens")):
        run_aecl("keys", "generate", "--name", name, "--out", str(workdir / out))
    token_key = str(workdir / "tokens" / "audit.key")
    agent = run_aecl("token", "issue", "--key", token_key, "--agent", AGENT, "--policy", str(policy))
    alice = run_aecl("token", "issue", "--key", token_key, "--approver", "alice")
    own = run_aecl("token", "issue", "--key", token_key, "--approver", AGENT)
    other = run_aecl(
        "token", "issue", "--key", token_key, "--agent", OTHER_AGENT, "--policy", str(policy)
    )
    log = open(workdir / "serve.log", "w")
    process = subprocess.Popen(
        [
            aecl_bin(), "serve",
            "--policy", str(policy),
            "--db", str(workdir / "aecl.db"),
            "--listen", "127.0.0.1:0",
            "--key", str(workdir / "audit" / "audit.key"),
            "--token-key", str(workdir / "tokens" / "audit.pub"),
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, "AECL_LOG": "info"},
    )
    first = process.stdout.readline().strip()
    prefix = "aecl serve: listening on "
    if not first.startswith(prefix):
        process.kill()
        raise RuntimeError(f"unexpected first line of aecl serve: {first!r}")
    return Server(first[len(prefix):], workdir, process, agent, alice, own, log, other)


@pytest.fixture(scope="session")
def server():
    workdir = Path(tempfile.mkdtemp(prefix="aecl-py-"))
    srv = start_server(workdir)
    yield srv
    srv.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def pending_for(server: Server, action: str, run: str, timeout: float = 30.0) -> Optional[dict]:
    """The pending request of ``action`` in ``run``, as an approver lists it (waits for it
    to appear, up to ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        request = urllib.request.Request(
            f"{server.url}/v1/approvals",
            headers={"Authorization": f"Bearer {server.approver_token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            for item in json.load(response):
                if item["action"] == action and item["run"] == run:
                    return item
        time.sleep(0.05)
    return None


class Approver:
    """A human in another thread: answers the first request of ``action`` in ``run``."""

    def __init__(self, server: Server, action: str, run: str, answer: str = "approve") -> None:
        self.server, self.action, self.run, self.answer = server, action, run, answer
        self.approval_id: Optional[str] = None
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._work, daemon=True)

    def __enter__(self) -> "Approver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.thread.join(timeout=60)

    def _work(self) -> None:
        try:
            item = pending_for(self.server, self.action, self.run)
            assert item is not None, f"no pending request of {self.action} in {self.run}"
            self.approval_id = item["id"]
            human = self.server.approver()
            if self.answer == "approve":
                human.approve(item["id"], reason="checked by the test")
            else:
                human.reject(item["id"], reason="not this one")
        except BaseException as e:  # noqa: BLE001 - reported by the test.
            self.error = e


@pytest.fixture
def approver(server) -> Callable[..., Approver]:
    return lambda action, run, answer="approve": Approver(server, action, run, answer)


@pytest.fixture
def client(server) -> aecl.Client:
    """An agent client on a fresh run."""
    return server.agent()


# A fake server for what a real one never answers.

HAND_OVER = json.dumps({
    "id": "c1", "run": "r1", "action": "lookup_order", "decision": "allow", "mode": "enforce",
    "reasons": [], "risk": {"score": 0.0, "contributions": [], "approval_threshold": 0.6},
    "policy_revision": "x", "approval_id": None, "replayed": False,
    "effect": {"id": "e1", "state": "succeeded", "result": {"executed_by": "client"},
               "rollback_token": None, "error": None},
}).encode()


class Routed:
    """A local HTTP server that hands every call over to the client and answers run
    events with one canned (status, body)."""

    def __init__(self, status: int, body: bytes) -> None:
        routed = self
        self.events = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name.
                length = int(self.headers.get("Content-Length") or 0)
                sent = json.loads(self.rfile.read(length) or b"null")
                if "/events" in self.path:
                    routed.events.append((self.path, sent))
                    status, body = routed.status, routed.body
                else:
                    status, body = 200, HAND_OVER
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.status, self.body = status, body
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> aecl.Client:
        self.thread.start()
        return aecl.Client(f"http://127.0.0.1:{self.httpd.server_address[1]}", "t", timeout=2, run="r1")

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
