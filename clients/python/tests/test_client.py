"""The client and the guard against a real ``aecl serve``: allow, block, an approval
answered by a human through the HTTP API, and failing closed when the server is down,
silent, refusing or answering nonsense."""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import threading
import time

import pytest

import aecl
from conftest import start_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_evaluate_allows_a_read_and_blocks_a_deletion(client):
    allowed = client.evaluate("lookup_order", {"order_id": "ORD-7"})
    assert allowed.decision == "allow" and allowed.allowed
    assert allowed.run == client.run and allowed.action == "lookup_order"
    assert allowed.effect is None and allowed.policy_revision

    blocked = client.evaluate("delete_customer", {"customer_id": "C-1"})
    assert blocked.decision == "block"
    assert "manifest.blocked_actions" in [r.rule for r in blocked.deciding_reasons()]

    bad = client.evaluate("lookup_order", {"order_id": "../etc/passwd"})
    assert bad.decision == "block"
    assert "arguments.schema" in [r.rule for r in bad.reasons]


def test_execute_on_the_server_without_connectors_runs_nothing(client):
    answer = client.execute("lookup_order", {"order_id": "ORD-8"})
    assert answer.decision == "allow"
    assert answer.effect is not None and answer.effect.state == "failed"
    assert answer.effect.error.startswith("not_configured")
    assert not answer.handed_to_client


def test_a_guarded_function_runs_when_allowed_and_not_when_blocked(client):
    ran = []

    @aecl.guard(client)
    def lookup_order(order_id: str) -> str:
        ran.append(order_id)
        return f"order {order_id}: shipped"

    @aecl.guard(client, action="delete_customer")
    def drop(customer_id: str) -> None:
        ran.append(customer_id)

    assert lookup_order("ORD-1") == "order ORD-1: shipped"
    with pytest.raises(aecl.Blocked) as blocked:
        drop(customer_id="C-9")
    assert blocked.value.decision.decision == "block"
    assert "manifest.blocked_actions" in str(blocked.value)
    with pytest.raises(aecl.Blocked):
        lookup_order(order_id="not an order id")
    assert ran == ["ORD-1"]


def test_an_approval_answered_through_the_api_lets_the_call_run_once(server, approver):
    client = server.agent()
    ran = []

    @aecl.guard(client, poll=5)
    def refund_payment(order_id: str, amount: float) -> str:
        ran.append((order_id, amount))
        return "refunded"

    with approver("refund_payment", client.run) as human:
        assert refund_payment("ORD-2", amount=25) == "refunded"
    assert human.error is None and human.approval_id
    assert ran == [("ORD-2", 25)]
    seen = client.approval(human.approval_id)
    assert (seen.status, seen.decided_by, seen.action) == ("approved", "alice", "refund_payment")

    # The grant is spent: the same refund, once the duplicate window (2 s) has passed,
    # asks a human again.
    time.sleep(2.2)
    no_wait = aecl.guard(client, wait_for_approval=False)(refund_payment.__wrapped__)
    with pytest.raises(aecl.ApprovalRequired) as again:
        no_wait("ORD-2", amount=25)
    assert again.value.approval_id and again.value.approval_id != human.approval_id
    assert ran == [("ORD-2", 25)]


def test_concurrent_retries_of_an_approved_call_run_it_once(server):
    client = server.agent()
    args = {"order_id": "ORD-9", "amount": 30}
    with pytest.raises(aecl.ApprovalRequired) as pending:
        client.authorize("refund_payment", args, wait_for_approval=False)
    approval_id = pending.value.approval_id
    server.approver().approve(approval_id, reason="ok")

    ran, refused, errors = [], [], []
    start = threading.Barrier(10)

    def retry() -> None:
        start.wait()
        try:
            ran.append(client.authorize("refund_payment", args, wait_for_approval=False))
        except aecl.ApprovalRequired as e:
            refused.append(e)
        except Exception as e:  # noqa: BLE001 - any other answer is a failure of the test
            errors.append(e)

    threads = [threading.Thread(target=retry) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(ran) == 1 and ran[0].handed_to_client
    assert len(refused) == 9
    # The losers point at the approval that was used: nobody is asked again.
    assert {e.approval_id for e in refused} == {approval_id}


def test_a_rejected_approval_never_runs(server, approver):
    client = server.agent()
    ran = []

    @aecl.guard(client, poll=5)
    def refund_payment(order_id: str, amount: float) -> None:
        ran.append(order_id)

    with approver("refund_payment", client.run, answer="reject") as human:
        with pytest.raises(aecl.ApprovalRejected) as rejected:
            refund_payment("ORD-3", 10)
    assert human.error is None
    assert rejected.value.approval.status == "rejected"
    assert rejected.value.approval.reason == "not this one"
    assert ran == []


def test_an_agent_cannot_approve_its_own_call(server):
    client = server.agent()
    with pytest.raises(aecl.ApprovalRequired) as pending:
        client.authorize("refund_payment", {"order_id": "ORD-4", "amount": 5}, wait_for_approval=False)
    approval_id = pending.value.approval_id
    with pytest.raises(aecl.Refused) as as_agent:
        client.approve(approval_id)
    assert as_agent.value.status == 403
    own = aecl.Client(server.url, server.own_approver_token)
    with pytest.raises(aecl.Refused) as self_approval:
        own.approve(approval_id)
    assert self_approval.value.status == 403
    with pytest.raises(aecl.ApprovalTimeout):
        client.wait_for_approval(approval_id, timeout=0)
    assert client.approval(approval_id).status == "pending"


def test_async_functions_are_guarded_too(client):
    @aecl.guard(client)
    async def lookup_order(order_id: str) -> str:
        return order_id

    @aecl.guard(client)
    async def delete_customer(customer_id: str) -> str:
        raise AssertionError("must not run")

    assert asyncio.run(lookup_order("ORD-5")) == "ORD-5"
    with pytest.raises(aecl.Blocked):
        asyncio.run(delete_customer("C-1"))


# Failing closed.


def test_an_unreachable_server_blocks(server):
    down = aecl.Client(f"http://127.0.0.1:{free_port()}", server.agent_token, timeout=2)
    ran = []

    @aecl.guard(down)
    def lookup_order(order_id: str) -> None:
        ran.append(order_id)

    with pytest.raises(aecl.Unavailable) as unavailable:
        lookup_order("ORD-1")
    assert isinstance(unavailable.value, aecl.Blocked)
    with pytest.raises(aecl.Unavailable):
        down.evaluate("lookup_order", {"order_id": "ORD-1"})
    assert ran == []


def test_a_server_that_stops_blocks_the_next_call(tmp_path):
    srv = start_server(tmp_path)
    client = srv.agent(timeout=2)
    ran = []

    @aecl.guard(client)
    def lookup_order(order_id: str) -> None:
        ran.append(order_id)

    lookup_order("ORD-1")
    srv.stop()
    with pytest.raises(aecl.Unavailable):
        lookup_order("ORD-2")
    assert ran == ["ORD-1"]


def test_a_bad_token_is_refused_and_blocks(server):
    forged = aecl.Client(server.url, server.agent_token[:-4] + "AAAA")
    with pytest.raises(aecl.Refused) as refused:
        aecl.guard(forged, action="lookup_order")(lambda order_id: None)("ORD-1")
    assert (refused.value.status, refused.value.code) == (401, "unauthenticated")
    approver_as_agent = aecl.Client(server.url, server.approver_token)
    with pytest.raises(aecl.Refused) as wrong_role:
        approver_as_agent.evaluate("lookup_order", {"order_id": "ORD-1"})
    assert wrong_role.value.status == 403


class Fake:
    """A local HTTP server answering every request with one canned (status, body), or
    never answering when ``status`` is None."""

    def __init__(self, status, body: bytes, headers: dict = None) -> None:
        fake = self
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name.
                fake.requests.append((self.command, self.path, dict(self.headers)))
                if fake.status is None:
                    fake.release.wait(30)
                    return
                self.send_response(fake.status)
                for name, value in (fake.headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(fake.body)))
                self.end_headers()
                self.wfile.write(fake.body)

            do_GET = do_POST

            def log_message(self, *args) -> None:
                pass

        self.status, self.body, self.headers = status, body, headers
        self.release = threading.Event()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> aecl.Client:
        self.thread.start()
        return aecl.Client(self.url, "t", timeout=1)

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


ALLOW_WITHOUT_HAND_OVER = json.dumps({
    "id": "c1", "run": "r1", "action": "lookup_order", "decision": "allow", "mode": "enforce",
    "reasons": [], "risk": {"score": 0.0, "contributions": [], "approval_threshold": 0.6},
    "policy_revision": "x", "approval_id": None,
}).encode()



def allow_with(effect: dict, replayed: bool) -> bytes:
    answer = json.loads(ALLOW_WITHOUT_HAND_OVER)
    answer.update(effect=effect, replayed=replayed)
    return json.dumps(answer).encode()


ALLOW_UNDISPATCHED = allow_with(
    {"id": "e1", "state": "failed", "result": None, "rollback_token": None,
     "error": "not dispatched: the grant was already used"},
    False,
)
ALLOW_REPLAYED = allow_with(
    {"id": "e1", "state": "succeeded", "result": {"executed_by": "client"},
     "rollback_token": None, "error": None},
    True,
)


@pytest.mark.parametrize(
    "status, body",
    [
        (None, b""),  # no answer: the client's timeout
        (200, b"<html>not json</html>"),
        (200, b'{"decision": "allow"}'),  # fields missing
        (200, b'{"decision": "maybe", "mode": "enforce"}'),
        (200, ALLOW_WITHOUT_HAND_OVER),  # an allow that hands nothing to the client
        (200, ALLOW_UNDISPATCHED),  # an allow whose effect was never dispatched
        (200, ALLOW_REPLAYED),  # an earlier execution's effect, returned again
        (302, b""),
        (500, b'{"error": {"code": "internal", "message": "boom"}}'),
        (503, ALLOW_WITHOUT_HAND_OVER.replace(b'"allow"', b'"block"')),
        (429, b'{"error": {"code": "rate_limited", "message": "slow down"}}'),
    ],
)
def test_answers_that_are_not_a_clear_allow_block(status, body):
    ran = []
    with Fake(status, body) as client:

        @aecl.guard(client)
        def lookup_order(order_id: str) -> None:
            ran.append(order_id)

        with pytest.raises(aecl.Blocked):
            lookup_order("ORD-1")
    assert ran == []


def test_arguments_that_are_not_json_block_before_sending(client):
    @aecl.guard(client)
    def lookup_order(order_id: object) -> None:
        raise AssertionError("must not run")

    with pytest.raises(aecl.Blocked, match="JSON"):
        lookup_order(object())
    with pytest.raises(aecl.Blocked, match="JSON"):
        lookup_order(float("nan"))


def test_a_redirect_is_not_followed_and_the_token_stays_home():
    elsewhere = Fake(200, ALLOW_WITHOUT_HAND_OVER)
    with elsewhere:
        redirect = Fake(307, b"", headers={"Location": f"{elsewhere.url}/v1/execute"})
        with redirect as client:
            with pytest.raises(aecl.Unavailable) as refused:
                client.authorize("lookup_order", {"order_id": "ORD-1"})
        assert refused.value.status == 307
        assert len(redirect.requests) == 1
    assert elsewhere.requests == []


def test_guarded_methods_send_their_arguments_by_name(client):
    class Orders:
        @aecl.guard(client, action="lookup_order")
        def lookup(self, **kwargs) -> dict:
            return kwargs

    assert Orders().lookup(order_id="ORD-6") == {"order_id": "ORD-6"}
    with pytest.raises(aecl.Blocked) as blocked:
        Orders().lookup(order_id="ORD-6", extra=1)
    assert "arguments.schema" in [r.rule for r in blocked.value.reasons]


def test_a_call_the_policy_wants_sandboxed_is_not_handed_to_the_client(client):
    @aecl.guard(client)
    def build_report() -> None:
        raise AssertionError("must not run")

    with pytest.raises(aecl.Blocked) as blocked:
        build_report()
    reasons = {r.rule: r.message for r in blocked.value.reasons}
    assert "client runs this call" in reasons["sandbox.tier_unavailable"], reasons
