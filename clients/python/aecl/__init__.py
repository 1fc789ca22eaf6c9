"""aecl: the Python client of aecl (Agent Execution Control Layer).

``Client`` talks to a running ``aecl serve``; ``guard`` makes a function a tool that aecl
decides before it runs and whose output it records after; ``aecl.adapters`` plug the same check into LangChain, the OpenAI
Agents SDK, CrewAI and AutoGen (each imported only when used). Every way a call can fail
to be allowed raises a subclass of ``Blocked``.
"""

from .agent_key import AgentKey
from .client import Approval, Client, Decision, Effect, Reason, output_value
from .errors import (
    AeclError,
    ApprovalRejected,
    ApprovalRequired,
    ApprovalTimeout,
    Blocked,
    DuplicateResult,
    EventRefused,
    NotRun,
    OutputWithheld,
    Refused,
    Unavailable,
    UnknownCall,
    WrongAgent,
)
from .guard import Guard, guard

__all__ = [
    "AeclError",
    "AgentKey",
    "Approval",
    "ApprovalRejected",
    "ApprovalRequired",
    "ApprovalTimeout",
    "Blocked",
    "Client",
    "Decision",
    "DuplicateResult",
    "Effect",
    "EventRefused",
    "Guard",
    "NotRun",
    "OutputWithheld",
    "Reason",
    "Refused",
    "Unavailable",
    "UnknownCall",
    "WrongAgent",
    "guard",
    "output_value",
]
