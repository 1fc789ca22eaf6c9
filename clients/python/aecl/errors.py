"""The exceptions of the aecl client.

Every failure is a ``Blocked``: a call is allowed only by an ``allow`` answer that was
read in full, so anything else (a block, a pending or rejected approval, an unreachable
server, a refused token, an answer that cannot be read) stops the tool. Code that catches
``aecl.Blocked`` therefore catches every way a call can fail to be allowed, and nothing
that reads as an allow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .client import Approval, Decision


class AeclError(Exception):
    """The base class of the client's exceptions."""


class Blocked(AeclError):
    """The call may not run. ``decision`` is the server's answer when there was one."""

    def __init__(self, message: str, decision: Optional["Decision"] = None) -> None:
        super().__init__(message)
        self.decision = decision

    @property
    def reasons(self) -> list:
        return list(self.decision.reasons) if self.decision is not None else []


class ApprovalRequired(Blocked):
    """The call waits for a human: approve ``approval_id`` (web page, CLI or API), then
    call again with the same arguments."""

    def __init__(
        self, message: str, approval_id: Optional[str], decision: Optional["Decision"] = None
    ) -> None:
        super().__init__(message, decision)
        self.approval_id = approval_id


class ApprovalTimeout(ApprovalRequired):
    """Nobody answered the approval request in time; it may still be answered later."""


class ApprovalRejected(Blocked):
    """An approver rejected the request, or it expired (an expired request is a rejection)."""

    def __init__(
        self, message: str, approval: "Approval", decision: Optional["Decision"] = None
    ) -> None:
        super().__init__(message, decision)
        self.approval = approval


class NotRun(Blocked):
    """The policy allowed the call but says it must not run here: a dry run, or a repeated
    idempotency key whose first execution already happened."""


class Unavailable(Blocked):
    """The server could not be asked or did not answer usably: unreachable, timed out,
    5xx (the engine failed and blocked the call), or an answer that is not the expected
    JSON."""

    def __init__(
        self,
        message: str,
        status: Optional[int] = None,
        decision: Optional["Decision"] = None,
    ) -> None:
        super().__init__(message, decision)
        self.status = status


class Refused(Blocked):
    """The server refused the request (4xx): no valid token, wrong role, another agent's
    run, a malformed call, a rate limit. ``code`` is the server's error code."""

    def __init__(self, message: str, status: int, code: Optional[str]) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class EventRefused(Refused):
    """The server refused a run event (``POST /v1/runs/{run}/events``): the base of the
    typed refusals below, and what any other 4xx on that endpoint raises."""


class UnknownCall(EventRefused):
    """404 ``event.unknown_call``: the result names no call the engine allowed in that run
    (and handed to this client)."""


class WrongAgent(EventRefused):
    """403 ``event.wrong_agent``: the run belongs to another agent than the token's."""


class DuplicateResult(EventRefused):
    """409 ``event.duplicate_result``: a result for that call was already recorded (by
    this client or by someone else holding the agent's token)."""


class OutputWithheld(Blocked):
    """The tool ran, but its output could not be recorded with aecl, so it is not handed
    on: an output aecl does not know would let a value read from it pass the data-flow
    check later as if nobody had shown it. ``output`` is the tool's value (for the
    developer; it is never part of the message, which an agent framework may show the
    model), ``call_id`` the call, and the cause (a :class:`Refused` or
    :class:`Unavailable`) is ``__cause__``."""

    def __init__(
        self,
        message: str,
        call_id: Optional[str] = None,
        output: object = None,
        decision: Optional["Decision"] = None,
    ) -> None:
        super().__init__(message, decision)
        self.call_id = call_id
        self.output = output
