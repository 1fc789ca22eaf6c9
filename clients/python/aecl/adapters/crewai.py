"""CrewAI: a before-tool-call hook that lets a tool run only when aecl allows the call,
and an after-tool-call hook that records the tool's output with aecl.

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

Outputs: the after hook sends the tool's result text (what the agent reads) as the result
of the call the before hook decided. When that fails, or when the before hook did not
decide the call, the agent reads ``Output withheld: <reason>`` instead.

User messages: CrewAI hands an agent its task, not a user's message. The task's
description (with the kickoff ``inputs`` interpolated into it) is sent as the user's words
of the run, once per task, before the task's first tool call (``report_task=False`` turns
this off). Context from earlier tasks' outputs is not sent: it may hold tool output. A
failure to record it blocks the tool call.
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
from ..guard import Guard, RunSource, resolve_run

# The most refusals whose reason waits for its after-hook (a blocked call whose after-hook
# never runs must not make the table grow without end).
_PENDING_REASONS = 1024
_BLOCKED_PREFIX = "Tool execution blocked by hook"
_WITHHELD = "Output withheld"


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
        report_task: bool = True,
    ) -> None:
        self.report_task = report_task
        self.guard = Guard(
            client,
            run=run,
            actions=actions,
            wait_for_approval=wait_for_approval,
            approval_timeout=approval_timeout,
            poll=poll,
        )
        self._reasons: "OrderedDict[int, str]" = OrderedDict()
        # Allowed calls waiting for their after hook: input dict id -> (dict, decision).
        self._allowed: "OrderedDict[int, tuple]" = OrderedDict()
        # (run, task id) of the tasks whose description was sent.
        self._tasks: "OrderedDict[tuple, bool]" = OrderedDict()
        self._lock = threading.Lock()

    def before(self, context: ToolCallHookContext) -> Optional[bool]:
        """``None`` lets the tool run; ``False`` blocks it."""
        try:
            run = self._run_of(context)
            self._send_task(context, run)
            tool_input = context.tool_input
            decision = self.guard.check(context.tool_name, dict(tool_input or {}), run=run)
            with self._lock:
                # The after hook gets a new context holding the same input dict; it is
                # held here so that its id is not reused while the tool runs.
                self._allowed[id(tool_input)] = (tool_input, decision)
                _bound(self._allowed)
            return None
        except Exception as refused:  # noqa: BLE001 - fail closed, see the module doc.
            self._remember(context, str(refused) or repr(refused))
            return False

    def after(self, context: ToolCallHookContext) -> Optional[str]:
        """Records the output of an allowed call (or withholds it); replaces CrewAI's
        "blocked by hook" text with aecl's reason."""
        try:
            key = id(context.tool_input)
            with self._lock:
                reason = self._reasons.pop(key, None)
                allowed = self._allowed.pop(key, None)
            result = context.tool_result or ""
            if reason is not None and result.startswith(_BLOCKED_PREFIX):
                return f"Not run: {reason}"
            if allowed is None or allowed[0] is not context.tool_input:
                return f"{_WITHHELD}: aecl: `{context.tool_name}` ran without an aecl decision"
            self.guard.report(allowed[1], result)
            return None
        except Exception as failed:  # noqa: BLE001 - an unrecorded output is withheld.
            return f"{_WITHHELD}: {failed or repr(failed)}"

    def user_message(self, text: str, run: Optional[str] = None) -> None:
        """Records the user's own words in the hook's run (or ``run``)."""
        self.guard.user_message(text, run=run)

    def _run_of(self, context: ToolCallHookContext) -> str:
        crew = getattr(context, "crew", None)
        if self.guard.run is None and crew is not None and getattr(crew, "id", None):
            return str(crew.id)
        return resolve_run(self.guard.client, self.guard.run)

    def _send_task(self, context: ToolCallHookContext, run: str) -> None:
        task = getattr(context, "task", None)
        description = getattr(task, "description", None)
        if not self.report_task or not isinstance(description, str) or not description:
            return
        key = (run, str(getattr(task, "id", id(task))))
        with self._lock:
            if key in self._tasks:
                return
        self.guard.user_message(description, run=run)
        with self._lock:
            self._tasks[key] = True
            _bound(self._tasks)

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
            _bound(self._reasons)


def _bound(table: OrderedDict) -> None:
    while len(table) > _PENDING_REASONS:
        table.popitem(last=False)
