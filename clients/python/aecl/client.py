"""The HTTP client of a running ``aecl serve``: evaluate, execute, run events, approvals.

Standard library only (``urllib.request``, ``json``), so that the guard adds no
dependency to an agent. It fails closed: whatever is not an ``allow`` answer read in full
raises a subclass of :class:`aecl.Blocked` (see ``errors.py``), never returns as an allow.

The wire shapes are those of ``crates/aecl-server`` (``/openapi.json``): a call is a trace
``call`` event without ``type`` (``run``, ``id``, ``action``, ``args``, ...); the agent is
the bearer token's subject and is never sent; the answer is an ``aecl replay`` line plus
``approval_id`` and, for execute, ``effect`` and ``replayed``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from .agent_key import AgentKey
from .errors import (
    ApprovalRejected,
    ApprovalRequired,
    ApprovalTimeout,
    Blocked,
    DuplicateResult,
    EventRefused,
    NotRun,
    Refused,
    Unavailable,
    UnknownCall,
    WrongAgent,
)

# The wire's spellings, checked against docs/schema/api/ by tests/test_schema.py.
DECISIONS = ("allow", "require_approval", "block")
MODES = ("enforce", "monitor", "dry-run")
APPROVAL_STATUSES = ("pending", "approved", "rejected", "expired")
# The effect result with which the server hands a call to the client that runs it
# (`Aecl-Executor: client`, crates/aecl-server/src/calls.rs).
CLIENT_HAND_OVER = {"executed_by": "client"}
# The server answers a long-poll for at most this long (approvals.rs MAX_WAIT).
MAX_WAIT_SECS = 60.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: the bearer token would go along to wherever the answer
    points, and a POST would turn into a GET. A 3xx is an answer that is not an allow."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001
        return None


# Proxies from the environment are honoured as urllib does; redirects are not.
_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Reason:
    """One finding of one stage of the pipeline."""

    stage: str
    rule: str
    decision: str
    message: str
    field: Optional[str] = None

    def __str__(self) -> str:
        where = f" ({self.field})" if self.field else ""
        return f"{self.rule}{where}: {self.message}"


@dataclass(frozen=True)
class Effect:
    """What an execute dispatched: its ledger entry."""

    id: str
    state: str
    result: Any = None
    error: Optional[str] = None
    rollback_token: Optional[str] = None
    # A replayed effect that aecl has since rolled back: the compensation's effect id.
    rolled_back_by: Optional[str] = None


@dataclass(frozen=True)
class Decision:
    """The server's decision on one call, as recorded in its audit log."""

    call_id: str
    run: str
    action: str
    decision: str
    mode: str
    reasons: tuple
    risk_score: float
    policy_revision: str
    approval_id: Optional[str] = None
    effect: Optional[Effect] = None
    replayed: Optional[bool] = None
    risk: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def enforced(self) -> str:
        """The decision as applied: a ``monitor`` policy records but allows."""
        return "allow" if self.mode == "monitor" else self.decision

    @property
    def allowed(self) -> bool:
        return self.enforced == "allow"

    @property
    def handed_to_client(self) -> bool:
        """True when an ``Aecl-Executor: client`` execute lets the client run the call,
        now, once: allowed, dispatched to the client, and not a replay of an earlier
        execution."""
        return (
            self.allowed
            and not self.replayed
            and self.effect is not None
            and self.effect.state == "succeeded"
            and self.effect.result == CLIENT_HAND_OVER
        )

    def deciding_reasons(self) -> list:
        """The reasons as strict as the decision (those that set it)."""
        return [r for r in self.reasons if r.decision == self.decision]

    def explain(self) -> str:
        reasons = "; ".join(str(r) for r in self.deciding_reasons())
        return f"`{self.action}` {self.decision}" + (f": {reasons}" if reasons else "")


@dataclass(frozen=True)
class Approval:
    """An approval request as the server shows it."""

    id: str
    status: str
    run: str
    call_id: str
    agent: str
    action: str
    call_digest: str
    policy_revision: str
    requested_ms: int
    expires_ms: int
    decided_by: Optional[str] = None
    reason: Optional[str] = None
    context: Optional[Mapping[str, Any]] = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


class Client:
    """A client of ``aecl serve`` holding an agent's (or an approver's) bearer token.

    ``run`` is the run (task) that calls name when they give none; by default a new id per
    client, so one client is one agent session.
    """

    def __init__(
        self,
        base_url: str,
        token: Optional[str] = None,
        timeout: float = 10.0,
        run: Optional[str] = None,
        agent_key: Any = None,
        agent: Optional[str] = None,
    ) -> None:
        # With the agent's own key (a file, its text, or an ``AgentKey``) a fresh short
        # token is signed for every request instead of one bearer token for the session.
        self._agent_key: Optional[AgentKey] = None
        self._agent = agent
        if agent_key is not None:
            self._agent_key = agent_key if isinstance(agent_key, AgentKey) else AgentKey.load(agent_key)
            token = token or "-"
        if token is None:
            token = os.environ.get("AECL_TOKEN")
        if not token or not token.strip():
            raise ValueError("aecl: no token (pass `token=`, `agent_key=`, or set AECL_TOKEN)")
        parsed = urllib.parse.urlparse(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"aecl: `{base_url}` is not an http(s) URL")
        if not timeout > 0:
            raise ValueError("aecl: `timeout` must be a positive number of seconds")
        self.base_url = base_url.rstrip("/")
        self._token = token.strip()
        self.timeout = float(timeout)
        self.run = run or f"py-{uuid.uuid4().hex}"

    def __repr__(self) -> str:
        # The token stays out of logs and tracebacks.
        return f"Client({self.base_url!r}, run={self.run!r})"

    @classmethod
    def from_env(cls, **kwargs: Any) -> "Client":
        """A client from ``AECL_URL`` and ``AECL_TOKEN`` (or ``AECL_AGENT_KEY``, a key file)."""
        url = os.environ.get("AECL_URL")
        if not url:
            raise ValueError("aecl: AECL_URL is not set")
        key = os.environ.get("AECL_AGENT_KEY")
        if key and "agent_key" not in kwargs:
            kwargs["agent_key"] = key
        return cls(url, os.environ.get("AECL_TOKEN"), **kwargs)

    # Calls.

    def evaluate(
        self,
        action: str,
        args: Optional[Mapping[str, Any]] = None,
        *,
        run: Optional[str] = None,
        call_id: Optional[str] = None,
        **extra: Any,
    ) -> Decision:
        """Decides and records a call; executes nothing. Note that a ``require_approval``
        evaluate files no approval request: use :meth:`authorize` for that."""
        body = self._call_body(action, args, run, call_id, extra)
        return self._decision(self._request("POST", "/v1/evaluate", body))

    def execute(
        self,
        action: str,
        args: Optional[Mapping[str, Any]] = None,
        *,
        run: Optional[str] = None,
        call_id: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        executor: str = "server",
        **extra: Any,
    ) -> Decision:
        """Decides, records and (when allowed) executes a call: through the server's
        connector (``executor="server"``), or by handing it to this client
        (``executor="client"``: see :meth:`authorize`). A ``require_approval`` answer
        carries the ``approval_id`` to wait on before calling again."""
        if executor not in ("server", "client"):
            raise ValueError("aecl: `executor` must be `server` or `client`")
        body = self._call_body(action, args, run, call_id, extra)
        headers = {"Aecl-Executor": executor}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return self._decision(self._request("POST", "/v1/execute", body, headers=headers))

    def authorize(
        self,
        action: str,
        args: Optional[Mapping[str, Any]] = None,
        *,
        run: Optional[str] = None,
        wait_for_approval: bool = True,
        approval_timeout: float = 300.0,
        poll: float = 30.0,
        **extra: Any,
    ) -> Decision:
        """Permission for this process to run a call itself, once: returns the ``allow``
        decision, or raises (``Blocked``, ``ApprovalRequired``, ``ApprovalRejected``,
        ``Unavailable``, ...). The call is decided, recorded and handed over by the
        server (``executor="client"``), so an approval's grant is spent by the run it
        permits. On ``require_approval`` it waits for a human (or raises
        ``ApprovalRequired`` when ``wait_for_approval`` is false), then asks again."""
        run = run or self.run
        decision = self.execute(action, args, run=run, executor="client", **extra)
        if decision.enforced != "require_approval" or decision.approval_id is None:
            return self._handed_over(decision)
        if not wait_for_approval:
            raise ApprovalRequired(
                f"aecl: {decision.explain()} (approval `{decision.approval_id}`)",
                decision.approval_id,
                decision,
            )
        self.wait_for_approval(decision.approval_id, timeout=approval_timeout, poll=poll)
        # The grant is bound to the exact call: the same run, action and arguments.
        again = self.execute(action, args, run=run, executor="client", **extra)
        return self._handed_over(again)

    # Run events: what the agent saw, for the data-flow check of its later calls.

    def report_result(
        self, run: Optional[str], call_id: str, output: Any
    ) -> Mapping[str, Any]:
        """Records the output of a call this client ran (``call_id`` is the ``call_id`` of
        the :class:`Decision` that handed it over; ``run`` ``None`` is the client's run).
        ``output`` is sent as JSON (see :func:`output_value` for other values). Returns the
        server's ``{"run", "recorded", "seq"}``; raises :class:`UnknownCall` (404),
        :class:`WrongAgent` (403), :class:`DuplicateResult` (409), another
        :class:`EventRefused` or :class:`Unavailable`. Never ignore these: an output
        that is not recorded is one aecl cannot trace values to."""
        if not isinstance(call_id, str) or not call_id:
            raise ValueError("aecl: `call_id` must be a non-empty string")
        body = {"type": "result", "id": call_id, "output": output_value(output)}
        return self._event(run, body)

    def report_user_message(self, run: Optional[str], text: str) -> Mapping[str, Any]:
        """Records the user's own words in ``run`` (``None``: the client's run): values
        they name count as trusted. Only the user's text belongs here, never content an
        agent or a tool produced. Raises like :meth:`report_result`."""
        if not isinstance(text, str):
            raise TypeError("aecl: `text` must be a string")
        return self._event(run, {"type": "user", "text": text})

    def _event(self, run: Optional[str], body: Mapping[str, Any]) -> Mapping[str, Any]:
        run = run or self.run
        if not isinstance(run, str) or not run:
            raise ValueError("aecl: `run` must be a non-empty string")
        path = f"/v1/runs/{urllib.parse.quote(run, safe='')}/events"
        try:
            answer = self._request("POST", path, body)
        except Refused as refused:
            raise _event_refusal(refused) from refused
        # Only an answer that says this event was recorded counts as recorded.
        if (
            not isinstance(answer, dict)
            or answer.get("recorded") != body["type"]
            or answer.get("run") != run
            or not isinstance(answer.get("seq"), int)
        ):
            raise Unavailable(f"aecl: the event answer does not confirm the record: {answer!r}")
        return answer

    # Approvals.

    def approval(self, approval_id: str, wait: Optional[float] = None) -> Approval:
        """The request ``approval_id``; with ``wait``, long-polls while it is pending (the
        server answers after at most 60 s)."""
        path = f"/v1/approvals/{urllib.parse.quote(approval_id, safe='')}"
        timeout = self.timeout
        if wait is not None:
            wait_ms = max(0, int(min(wait, MAX_WAIT_SECS) * 1000))
            path += f"?wait={wait_ms}ms"
            timeout += wait_ms / 1000
        return self._approval(self._request("GET", path, timeout=timeout))

    def wait_for_approval(
        self, approval_id: str, timeout: float = 300.0, poll: float = 30.0
    ) -> Approval:
        """Waits until a human answers ``approval_id``: returns the approved request,
        raises ``ApprovalRejected`` (rejected or expired) or ``ApprovalTimeout`` (still
        pending after ``timeout`` seconds). ``poll`` is the length of one long-poll."""
        if not poll > 0:
            raise ValueError("aecl: `poll` must be a positive number of seconds")
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            remaining = deadline - time.monotonic()
            approval = self.approval(approval_id, wait=max(0.0, min(poll, remaining)))
            if approval.status == "approved":
                return approval
            if approval.status in ("rejected", "expired"):
                why = f": {approval.reason}" if approval.reason else ""
                by = f" by {approval.decided_by}" if approval.decided_by else ""
                raise ApprovalRejected(
                    f"aecl: approval `{approval_id}` for `{approval.action}` was "
                    f"{approval.status}{by}{why}",
                    approval,
                )
            if time.monotonic() >= deadline:
                raise ApprovalTimeout(
                    f"aecl: approval `{approval_id}` for `{approval.action}` is still "
                    f"pending after {timeout:g} s",
                    approval_id,
                )

    def approve(self, approval_id: str, reason: Optional[str] = None) -> Mapping[str, Any]:
        """Approves a request (approver tokens only; never the agent that asked)."""
        path = f"/v1/approvals/{urllib.parse.quote(approval_id, safe='')}/approve"
        body = {"reason": reason} if reason is not None else {}
        return self._request("POST", path, body)

    def reject(self, approval_id: str, reason: str) -> Approval:
        """Rejects a request with a reason (approver tokens only)."""
        path = f"/v1/approvals/{urllib.parse.quote(approval_id, safe='')}/reject"
        return self._approval(self._request("POST", path, {"reason": reason}))

    def health(self) -> Mapping[str, Any]:
        """``/healthz``; raises ``Unavailable`` when the server is not enforcing."""
        return self._request("GET", "/healthz")

    # Internals.

    def _call_body(
        self,
        action: str,
        args: Optional[Mapping[str, Any]],
        run: Optional[str],
        call_id: Optional[str],
        extra: Mapping[str, Any],
    ) -> dict:
        if not isinstance(action, str) or not action:
            raise ValueError("aecl: `action` must be a non-empty string")
        known = {"nonce", "scope", "provenance", "idempotency_key"}
        unknown = set(extra) - known
        if unknown:
            raise TypeError(f"aecl: unknown call field(s): {', '.join(sorted(unknown))}")
        body = {
            "run": run or self.run,
            "id": call_id or uuid.uuid4().hex,
            "action": action,
            "args": dict(args) if args is not None else {},
        }
        body.update({k: v for k, v in extra.items() if v is not None})
        return body

    def _handed_over(self, decision: Decision) -> Decision:
        if decision.handed_to_client:
            return decision
        if decision.enforced == "block":
            raise Blocked(f"aecl: {decision.explain()}", decision)
        if decision.enforced == "require_approval":
            raise ApprovalRequired(
                f"aecl: {decision.explain()}", decision.approval_id, decision
            )
        if decision.replayed:
            raise NotRun(
                f"aecl: `{decision.action}` already ran under this idempotency key", decision
            )
        if decision.mode == "dry-run":
            raise NotRun(f"aecl: `{decision.action}` allowed in dry-run mode: nothing runs", decision)
        raise Unavailable(
            f"aecl: `{decision.action}` allowed without a hand-over to the client "
            f"(effect {decision.effect!r}): not run",
            decision=decision,
        )

    def _request(
        self,
        method: str,
        path: str,
        body: Optional[Mapping[str, Any]] = None,
        headers: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
    ) -> Any:
        url = self.base_url + path
        data = None
        bearer = self._agent_key.token(self._agent) if self._agent_key else self._token
        all_headers = {"Authorization": f"Bearer {bearer}", "Accept": "application/json"}
        if body is not None:
            try:
                data = json.dumps(body, allow_nan=False).encode("utf-8")
            except (TypeError, ValueError) as e:
                raise Blocked(f"aecl: the call cannot be sent as JSON: {e}") from e
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
        try:
            with _OPENER.open(request, timeout=timeout or self.timeout) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, _read(e)
        except (urllib.error.URLError, socket.timeout, TimeoutError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise Unavailable(f"aecl: {method} {url} failed: {reason}") from e
        except Exception as e:  # noqa: BLE001 - anything else is still not an allow.
            raise Unavailable(f"aecl: {method} {url} failed: {e!r}") from e
        try:
            answer = json.loads(text) if text else None
        except ValueError:
            answer = None
        if 200 <= status < 300:
            if answer is None:
                raise Unavailable(
                    f"aecl: {method} {path} answered {status} without a JSON body", status
                )
            return answer
        code, message = _error_of(answer)
        if status >= 500 or status < 400:
            decision = None
            if isinstance(answer, dict) and "decision" in answer:
                try:
                    decision = self._decision(answer)
                except Unavailable:
                    decision = None
            raise Unavailable(
                f"aecl: {method} {path} answered {status}: {message or 'no message'}",
                status,
                decision,
            )
        raise Refused(
            f"aecl: {method} {path} refused ({status} {code or 'error'}): "
            f"{message or 'no message'}",
            status,
            code,
        )

    def _decision(self, answer: Any) -> Decision:
        try:
            if not isinstance(answer, dict):
                raise TypeError("not an object")
            decision = answer["decision"]
            if decision not in DECISIONS:
                raise ValueError(f"unknown decision {decision!r}")
            mode = answer["mode"]
            if mode not in MODES:
                raise ValueError(f"unknown mode {mode!r}")
            reasons = tuple(
                Reason(
                    stage=str(r["stage"]),
                    rule=str(r["rule"]),
                    decision=str(r["decision"]),
                    message=str(r["message"]),
                    field=r.get("field"),
                )
                for r in answer["reasons"]
            )
            risk = answer["risk"]
            effect = answer.get("effect")
            if effect is not None:
                effect = Effect(
                    id=str(effect["id"]),
                    state=str(effect["state"]),
                    result=effect.get("result"),
                    error=effect.get("error"),
                    rollback_token=effect.get("rollback_token"),
                    rolled_back_by=effect.get("rolled_back_by"),
                )
            approval_id = answer.get("approval_id")
            if approval_id is not None and not isinstance(approval_id, str):
                raise TypeError("approval_id is not a string")
            return Decision(
                call_id=str(answer["id"]),
                run=str(answer["run"]),
                action=str(answer["action"]),
                decision=decision,
                mode=mode,
                reasons=reasons,
                risk_score=float(risk["score"]),
                policy_revision=str(answer["policy_revision"]),
                approval_id=approval_id,
                effect=effect,
                replayed=answer.get("replayed"),
                risk=risk,
                raw=answer,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise Unavailable(f"aecl: the decision answer is malformed ({e!r})") from e

    def _approval(self, answer: Any) -> Approval:
        try:
            if not isinstance(answer, dict):
                raise TypeError("not an object")
            status = answer["status"]
            if status not in APPROVAL_STATUSES:
                raise ValueError(f"unknown approval status {status!r}")
            return Approval(
                id=str(answer["id"]),
                status=status,
                run=str(answer["run"]),
                call_id=str(answer["call_id"]),
                agent=str(answer["agent"]),
                action=str(answer["action"]),
                call_digest=str(answer["call_digest"]),
                policy_revision=str(answer["policy_revision"]),
                requested_ms=int(answer["requested_ms"]),
                expires_ms=int(answer["expires_ms"]),
                decided_by=answer.get("decided_by"),
                reason=answer.get("reason"),
                context=answer.get("context"),
                raw=answer,
            )
        except (KeyError, TypeError, ValueError) as e:
            raise Unavailable(f"aecl: the approval answer is malformed ({e!r})") from e


def _read(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read()
    except Exception:  # noqa: BLE001 - a body we cannot read is no body.
        return b""


def _error_of(answer: Any) -> tuple:
    """The (code, message) of an error body ``{"error": {"code", "message"}}``."""
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        error = answer["error"]
        return error.get("code"), error.get("message")
    return None, None


def output_value(value: Any) -> Any:
    """A tool's return value as the JSON a result event carries, holding everything the
    caller can read of it: JSON as it is; a number JSON cannot carry (NaN, infinity) as
    its text; a pydantic model, a dataclass or another object with attributes as the
    mapping of its fields (a model's excluded fields too: the caller reads them); another
    object as its attributes, the private ones too (a ``requests`` response keeps its body
    in ``_content``, an ``EmailMessage`` its text in ``_payload``), with its ``str()`` as
    ``"__str__"`` when that says more than the class's name (what agent frameworks show
    the model); sets and tuples as lists; bytes and a text or bytes buffer as their text;
    a cycle as ``"[circular]"``; anything else as ``str()``. Recorded as less than the
    caller reads (``"<Invoice object at 0x...>"``), a value the caller then acts on would
    pass as the model's own."""
    return _jsonable(value, set(), 0)


#: Levels of nesting :func:`output_value` follows; deeper values are recorded as text.
_MAX_OUTPUT_DEPTH = 64


def _jsonable(value: Any, ancestors: set, depth: int) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, io.StringIO):
        return value.getvalue()
    if isinstance(value, io.BytesIO):
        return value.getvalue().decode("utf-8", "replace")
    if depth >= _MAX_OUTPUT_DEPTH:
        return str(value)
    if id(value) in ancestors:
        return "[circular]"
    ancestors.add(id(value))
    try:
        if isinstance(value, dict):
            # Keys that read alike (`1` and `"1"`, `True` and `"True"`) keep both values:
            # the second under its `repr` (red team round 31, flow F4: the last one won, and
            # the value dropped was one the caller still held).
            out: dict = {}
            for key, item in value.items():
                name = str(key)
                while name in out:
                    name = repr(name) if name == str(key) else name + "'"
                out[name] = _jsonable(item, ancestors, depth + 1)
            return out
        if isinstance(value, (set, frozenset)):
            return [_jsonable(item, ancestors, depth + 1) for item in sorted(value, key=repr)]
        if isinstance(value, (list, tuple)):
            return [_jsonable(item, ancestors, depth + 1) for item in value]
        fields = _fields(value)
        if fields is None:
            return str(value)
        recorded = {}
        for key, item in fields.items():
            item = _jsonable(item, ancestors, depth + 1)
            # A private attribute that is only another object's name (a cache, a lock, a
            # session) says nothing the caller reads.
            if key.startswith("_") and isinstance(item, str) and _DEFAULT_REPR.match(item):
                continue
            recorded[key] = item
        return recorded
    finally:
        ancestors.discard(id(value))


#: ``object.__repr__``'s form (and a function's): a name and an address, no content.
_DEFAULT_REPR = re.compile(r"^<.* at 0x[0-9a-fA-F]+>$")


def _informative_str(value: Any) -> "str | None":
    """``str(value)`` when it says more than the default ``<Class object at 0x...>``."""
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ shows the model nothing either
        return None
    return None if _DEFAULT_REPR.match(text) else text


def _fields(value: Any) -> "dict[str, Any] | None":
    """The fields a caller reads of an object, or ``None`` for one without any."""
    if isinstance(value, type):
        return None
    model_fields = getattr(type(value), "model_fields", None)
    if isinstance(model_fields, dict):
        # A pydantic model: every declared field, excluded ones too, extra ones, and its
        # private attributes (red team round 2).
        names = list(model_fields) + list(getattr(value, "__pydantic_extra__", None) or {})
        fields = {name: getattr(value, name, None) for name in names}
        fields.update(getattr(value, "__pydantic_private__", None) or {})
        return _with_text(value, fields, own_str_only=True)
    if dataclasses.is_dataclass(value):
        fields = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
        # Attributes set beside the declared fields.
        for key, item in (getattr(value, "__dict__", None) or {}).items():
            fields.setdefault(key, item)
        return _with_text(value, fields, own_str_only=True)
    fields: dict = {}
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, dict):
        fields.update(attributes)
    for cls in type(value).__mro__:
        slots = getattr(cls, "__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__") and hasattr(value, name):
                fields.setdefault(name, getattr(value, name))
    if not fields:
        return None
    return _with_text(value, fields, own_str_only=False)


def _with_text(value: Any, fields: dict, own_str_only: bool) -> dict:
    """``fields`` with the object's public properties (a caller reads ``mail.body`` as it
    reads ``mail.to``) and its ``str()`` as ``"__str__"`` when that says more than the
    class's name. For a model or a dataclass, only a ``__str__`` of its class's own: the
    generated one repeats the fields."""
    # The classes the value's own code defines, not a library's base (pydantic's
    # `model_extra`, its `__str__`) nor `object`.
    own_classes = [
        cls for cls in type(value).__mro__
        if cls is not object and not cls.__module__.startswith(("pydantic", "builtins"))
    ]
    for cls in own_classes:
        for name, attribute in vars(cls).items():
            if isinstance(attribute, property) and not name.startswith("_") and name not in fields:
                try:
                    fields[name] = getattr(value, name)
                except Exception:  # noqa: BLE001 - a property that fails shows the caller nothing
                    pass
    own = any("__str__" in vars(cls) for cls in own_classes)
    text = _informative_str(value) if own or not own_str_only else None
    if text is not None:
        fields["__str__"] = text
    return fields


_EVENT_REFUSALS = {
    "event.unknown_call": UnknownCall,
    "event.wrong_agent": WrongAgent,
    "event.duplicate_result": DuplicateResult,
}
# An answer without the code is typed by its status alone.
_EVENT_STATUSES = {404: UnknownCall, 403: WrongAgent, 409: DuplicateResult}


def _event_refusal(refused: Refused) -> EventRefused:
    kind = _EVENT_REFUSALS.get(refused.code or "")
    if kind is None and refused.code is None:
        kind = _EVENT_STATUSES.get(refused.status)
    kind = kind or EventRefused
    return kind(str(refused), refused.status, refused.code)
