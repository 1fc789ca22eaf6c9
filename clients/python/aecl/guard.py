"""The ``guard`` decorator: a Python function becomes a tool that aecl decides before it
runs.

Each call of the wrapped function is sent to ``aecl serve`` as a call of ``action`` with
the function's arguments (as the caller passed them: the function's own defaults are the
tool author's, not the agent's), through :meth:`Client.authorize`. The function runs only
on an ``allow`` that handed the call to this process; a block, a rejected or unanswered
approval, or any failure to ask raises a :class:`aecl.Blocked` and the function does not
run.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from typing import Any, Callable, Mapping, Optional, Union

from .client import Client, Decision

RunSource = Union[None, str, Callable[[], str]]


def call_arguments(signature: inspect.Signature, args: tuple, kwargs: dict) -> dict:
    """The arguments of one call by parameter name: ``**kwargs`` are spread, ``*args``
    kept as a list, and ``self``/``cls`` of a method left out."""
    bound = signature.bind(*args, **kwargs)
    out: dict = {}
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            out[name] = list(value)
        elif name in ("self", "cls") and next(iter(signature.parameters)) == name:
            continue
        else:
            out[name] = value
    return out


def resolve_run(client: Client, run: RunSource) -> str:
    if run is None:
        return client.run
    return run() if callable(run) else run


class Guard:
    """What a guarded tool asks before it runs: shared by the decorator and the framework
    adapters."""

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
        self.client = client
        self.run = run
        # Tool name -> catalog action, for tools whose name is not their action's.
        self.actions = dict(actions or {})
        self.wait_for_approval = wait_for_approval
        self.approval_timeout = approval_timeout
        self.poll = poll

    def action_of(self, tool_name: str) -> str:
        return self.actions.get(tool_name, tool_name)

    def check(self, tool_name: str, args: Mapping[str, Any], run: Optional[str] = None) -> Decision:
        """The ``allow`` for this call, or raises a :class:`aecl.Blocked`."""
        return self.client.authorize(
            self.action_of(tool_name),
            dict(args),
            run=run or resolve_run(self.client, self.run),
            wait_for_approval=self.wait_for_approval,
            approval_timeout=self.approval_timeout,
            poll=self.poll,
        )

    async def acheck(
        self, tool_name: str, args: Mapping[str, Any], run: Optional[str] = None
    ) -> Decision:
        """:meth:`check` off the event loop (the client blocks while it waits)."""
        return await asyncio.to_thread(self.check, tool_name, args, run)


def guard(
    client: Client,
    action: Optional[str] = None,
    *,
    run: RunSource = None,
    wait_for_approval: bool = True,
    approval_timeout: float = 300.0,
    poll: float = 30.0,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorates a function (sync or async) as the tool ``action`` (default: the
    function's name). ``run`` is the run id, or a function returning it (default: the
    client's). On ``require_approval`` it waits up to ``approval_timeout`` seconds for a
    human, or raises ``ApprovalRequired`` at once when ``wait_for_approval`` is false."""
    checker = Guard(
        client,
        run=run,
        wait_for_approval=wait_for_approval,
        approval_timeout=approval_timeout,
        poll=poll,
    )

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        name = action or fn.__name__
        signature = inspect.signature(fn)

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                await checker.acheck(name, call_arguments(signature, args, kwargs))
                return await fn(*args, **kwargs)

            guarded_async.aecl_action = name  # type: ignore[attr-defined]
            return guarded_async

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            checker.check(name, call_arguments(signature, args, kwargs))
            return fn(*args, **kwargs)

        guarded.aecl_action = name  # type: ignore[attr-defined]
        return guarded

    return decorate
