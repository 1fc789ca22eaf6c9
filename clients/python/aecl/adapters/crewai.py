"""CrewAI: a before-tool-call hook that lets a tool run only when aecl allows the call.

    from aecl.adapters.crewai import AeclToolHook

    hook = AeclToolHook(client).register()   # every tool call of every crew from now on
    crew.kickoff()
    hook.unregister()

    # or, for one block of code:
    with AeclToolHook(client):
        crew.kickoff()

A refused call does not run, and the agent reads ``Not run: <aecl's reason>`` as the
tool's output (an after-tool-call hook replaces CrewAI's generic "blocked by hook" text).

CrewAI runs hooks fail-open: an exception escaping a hook is swallowed and the tool runs.
So this hook never lets one escape: any failure, of aecl or of the hook itself, is a
``False`` (block).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Mapping, Optional

from crewai.hooks import (
    register_after_tool_call_hook,
    register_before_tool_call_hook,
    unregister_after_tool_call_hook,
    unregister_before_tool_call_hook,
)
from crewai.hooks.tool_hooks import ToolCallHookContext

from ..client import Client
from ..guard import Guard, RunSource

# The most refusals whose reason waits for its after-hook (a blocked call whose after-hook
# never runs must not make the table grow without end).
_PENDING_REASONS = 1024
_BLOCKED_PREFIX = "Tool execution blocked by hook"


class AeclToolHook:
    """A ``before_tool_call`` hook (and the ``after_tool_call`` hook that tells the agent
    why) deciding each tool call with aecl. The tool's name is the catalog action unless
    ``actions`` maps it; the run is ``run``, else the crew's id, else the client's run."""

    def __init__(
        self,
        client: Client,
        *,
        run: RunSource = None,
        actions: Optional[Mapping[str, str]] = None,
        wait_for_approval: bool = True,
        approval_timeout: float = 300.0,
        poll: float = 30.0,
    ) -> None:
        self.guard = Guard(
            client,
            run=run,
            actions=actions,
            wait_for_approval=wait_for_approval,
            approval_timeout=approval_timeout,
            poll=poll,
        )
        self._reasons: "OrderedDict[int, str]" = OrderedDict()
        self._lock = threading.Lock()

    def before(self, context: ToolCallHookContext) -> Optional[bool]:
        """``None`` lets the tool run; ``False`` blocks it."""
        try:
            run = None
            crew = getattr(context, "crew", None)
            if self.guard.run is None and crew is not None and getattr(crew, "id", None):
                run = str(crew.id)
            self.guard.check(context.tool_name, dict(context.tool_input or {}), run=run)
            return None
        except Exception as refused:  # noqa: BLE001 - fail closed, see the module doc.
            self._remember(context, str(refused) or repr(refused))
            return False

    def after(self, context: ToolCallHookContext) -> Optional[str]:
        """Replaces CrewAI's "blocked by hook" text with aecl's reason."""
        with self._lock:
            reason = self._reasons.pop(id(context.tool_input), None)
        result = context.tool_result or ""
        if reason is not None and result.startswith(_BLOCKED_PREFIX):
            return f"Not run: {reason}"
        return None

    def register(self) -> "AeclToolHook":
        register_before_tool_call_hook(self.before)
        register_after_tool_call_hook(self.after)
        return self

    def unregister(self) -> None:
        unregister_before_tool_call_hook(self.before)
        unregister_after_tool_call_hook(self.after)

    def __enter__(self) -> "AeclToolHook":
        return self.register()

    def __exit__(self, *exc: Any) -> None:
        self.unregister()

    def _remember(self, context: ToolCallHookContext, reason: str) -> None:
        # The blocked call's after-hook gets a new context holding the same input dict.
        with self._lock:
            self._reasons[id(context.tool_input)] = reason
            while len(self._reasons) > _PENDING_REASONS:
                self._reasons.popitem(last=False)
