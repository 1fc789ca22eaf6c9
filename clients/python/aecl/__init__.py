"""aecl: the Python client of aecl (Agent Execution Control Layer).

``Client`` talks to a running ``aecl serve``; ``guard`` makes a function a tool that aecl
decides before it runs; ``aecl.adapters`` plug the same check into LangChain, the OpenAI
Agents SDK, CrewAI and AutoGen (each imported only when used). Every way a call can fail
to be allowed raises a subclass of ``Blocked``.
"""

from .client import Approval, Client, Decision, Effect, Reason
from .errors import (
    AeclError,
    ApprovalRejected,
    ApprovalRequired,
    ApprovalTimeout,
    Blocked,
    NotRun,
    Refused,
    Unavailable,
)
from .guard import Guard, guard

__all__ = [
    "AeclError",
    "Approval",
    "ApprovalRejected",
    "ApprovalRequired",
    "ApprovalTimeout",
    "Blocked",
    "Client",
    "Decision",
    "Effect",
    "Guard",
    "NotRun",
    "Reason",
    "Refused",
    "Unavailable",
    "guard",
]
