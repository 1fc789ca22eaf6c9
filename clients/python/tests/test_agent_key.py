"""An agent's own key against a real ``aecl serve``: the client signs a fresh short token
for every request, so calls keep working; a replayed token, another key, and a revoked key
are refused."""

from __future__ import annotations

import json
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import aecl
from conftest import AGENT, POLICY, run_aecl, start_server


@pytest.fixture(scope="module")
def keyed():
    """A server whose policy holds py_agent's public key, and the key file."""
    workdir = Path(tempfile.mkdtemp(prefix="aecl-py-key-"))
    policy = workdir / "policy"
    shutil.copytree(POLICY, policy)
    out = run_aecl("keys", "generate", "--agent", AGENT, "--out", str(workdir / "agent"))
    public = (workdir / "agent" / f"{AGENT}.pub").read_text().strip()
    manifest = policy / "agents" / f"{AGENT}.toml"
    text = manifest.read_text().replace(
        "allowed_actions", f'public_keys = ["{public}"]\nallowed_actions', 1
    )
    manifest.write_text(text)
    key_id = next(line for line in out.splitlines() if line.startswith("key id: "))[8:]
    server = start_server(workdir, policy)
    yield server, workdir / "agent" / f"{AGENT}.key", key_id
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def post(url: str, token: str, body: dict) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def test_a_client_with_an_agent_key_mints_a_token_per_request(keyed):
    server, key_file, _ = keyed
    client = aecl.Client(server.url, agent_key=key_file)
    assert "PRIVATE" not in repr(client) and "PRIVATE" not in repr(aecl.AgentKey.load(key_file))
    for i in range(3):
        decided = client.evaluate("lookup_order", {"order_id": f"ORD-{i}"})
        assert decided.decision == "allow"

    # Each token is single-use: the same one twice is a replay.
    key = aecl.AgentKey.load(key_file)
    token = key.token()
    call = {"run": "r-replay", "id": "c1", "action": "lookup_order", "args": {"order_id": "ORD-1"}}
    assert post(f"{server.url}/v1/evaluate", token, call) == 200
    assert post(f"{server.url}/v1/evaluate", token, {**call, "id": "c2"}) == 401

    # Another key under the agent's name is refused.
    workdir = Path(tempfile.mkdtemp(prefix="aecl-py-thief-"))
    run_aecl("keys", "generate", "--agent", AGENT, "--out", str(workdir))
    thief = aecl.Client(server.url, agent_key=workdir / f"{AGENT}.key")
    with pytest.raises(aecl.Refused):
        thief.evaluate("lookup_order", {"order_id": "ORD-9"})
    shutil.rmtree(workdir, ignore_errors=True)


def test_a_revoked_agent_key_is_refused_at_the_next_request(keyed):
    server, key_file, key_id = keyed
    client = aecl.Client(server.url, agent_key=str(key_file))
    assert client.evaluate("lookup_order", {"order_id": "ORD-1"}).decision == "allow"
    token_key = str(server.dir / "tokens" / "audit.key")
    admin = run_aecl("token", "issue", "--key", token_key, "--admin", "root")
    answer = urllib.request.Request(
        f"{server.url}/v1/tokens/revoke", data=json.dumps({"agent_key": key_id}).encode(),
        method="POST", headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(answer, timeout=10) as response:
        assert response.status == 200
    with pytest.raises(aecl.Refused) as refused:
        client.evaluate("lookup_order", {"order_id": "ORD-2"})
    assert "revoked" in str(refused.value)
