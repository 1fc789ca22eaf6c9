"""The ``guard`` decorator: a Python function becomes a tool that aecl decides before it
runs, and whose output aecl records after it ran.

Each call of the wrapped function is sent to ``aecl serve`` as a call of ``action`` with
the function's arguments (as the caller passed them: the function's own defaults are the
tool author's, not the agent's), through :meth:`Client.authorize`. The function runs only
on an ``allow`` that handed the call to this process; a block, a rejected or unanswered
approval, or any failure to ask raises a :class:`aecl.Blocked` and the function does not
run.

After it ran, its return value (or the text of the exception it raised) is sent as the
call's result (a generator, an iterator, an async iterator or a file read to its end first,
and handed on as the same content: :mod:`aecl.lazy`), so that aecl knows where later argument values came from. When that record
fails, the value is withheld: :class:`aecl.OutputWithheld` is raised instead of returning
it (the function did run; ``OutputWithheld.output`` holds the value for the developer).

While a guarded tool runs, :func:`in_guarded_tool` is true (a context variable): an agent
or model the tool runs on what it read is the tool's, and the adapters never take its
messages for the user's.
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import contextvars
import functools
import inspect
from typing import Any, Callable, Iterator, Mapping, Optional, Union

from . import lazy
from .client import Client, Decision
from .errors import OutputWithheld

RunSource = Union[None, str, Callable[[], str]]

_IN_TOOL: "contextvars.ContextVar[bool]" = contextvars.ContextVar("aecl_in_tool", default=False)


def in_guarded_tool() -> bool:
    """Whether this code runs inside a tool aecl decided (its messages are not the user's)."""
    return _IN_TOOL.get()


@contextlib.contextmanager
def running_tool() -> Iterator[None]:
    """Marks the code run inside as a guarded tool's (see :func:`in_guarded_tool`)."""
    token = _IN_TOOL.set(True)
    try:
        yield
    finally:
        _IN_TOOL.reset(token)


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

    def report(self, decision: Decision, output: Any) -> None:
        """Records ``output`` as the result of the call ``decision`` handed over, or
        raises :class:`aecl.OutputWithheld` (chained to the cause): the caller must then
        not hand the output on."""
        try:
            self.client.report_result(decision.run, decision.call_id, output)
        except Exception as failed:  # noqa: BLE001 - any failure to record withholds it.
            raise OutputWithheld(
                f"aecl: the output of `{decision.action}` (call `{decision.call_id}`) "
                f"was not recorded, so it is withheld: {failed or repr(failed)}",
                decision.call_id,
                output,
                decision,
            ) from failed

    async def areport(self, decision: Decision, output: Any) -> None:
        """:meth:`report` off the event loop."""
        await asyncio.to_thread(self.report, decision, output)

    def user_message(self, text: str, run: Optional[str] = None) -> None:
        """Records the user's own words in the guard's run (or ``run``); raises a
        :class:`aecl.Blocked` when that fails."""
        self.client.report_user_message(run or resolve_run(self.client, self.run), text)

    async def auser_message(self, text: str, run: Optional[str] = None) -> None:
        await asyncio.to_thread(self.user_message, text, run)


def failure_output(error: BaseException) -> str:
    """What a tool that raised showed: the result recorded for a call that failed."""
    return f"error: {type(error).__name__}: {error}"


def _recorded_async(checker: Guard, decision: Decision, source: Any) -> Any:
    """The items of the async iterable ``source`` (an async generator tool's, or one a sync
    tool returned, which cannot be read before it returns): read to its end as the tool's
    code, recorded, and only then yielded (nothing is yielded when the record fails)."""

    async def replay() -> Any:
        try:
            with running_tool():
                items = [item async for item in source]
        except Exception as error:
            await checker.areport(decision, failure_output(error))
            raise
        await checker.areport(decision, lazy.recorded_form(items))
        for item in items:
            yield item

    return replay()


def guard(
    client: Client,
    action: Optional[str] = None,
    *,
    run: RunSource = None,
    wait_for_approval: bool = True,
    approval_timeout: float = 300.0,
    poll: float = 30.0,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorates a function (sync or async, a generator function too) as the tool
    ``action`` (default: the function's name). ``run`` is the run id, or a function
    returning it (default: the client's). On ``require_approval`` it waits up to
    ``approval_timeout`` seconds for a human, or raises ``ApprovalRequired`` at once when
    ``wait_for_approval`` is false.
    The decorated function's ``aecl_guard`` is its :class:`Guard` (for
    ``fn.aecl_guard.user_message(text)``)."""
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

        def ask(args: tuple, kwargs: dict) -> Decision:
            return checker.check(name, call_arguments(signature, args, kwargs))

        async def aask(args: tuple, kwargs: dict) -> Decision:
            return await checker.acheck(name, call_arguments(signature, args, kwargs))

        # A generator tool stays one: the call is decided when the caller starts reading,
        # and its items are handed on once all of them are recorded (`aecl.lazy`).
        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            async def guarded_agen(*args: Any, **kwargs: Any) -> Any:
                decision = await aask(args, kwargs)
                async for item in _recorded_async(checker, decision, fn(*args, **kwargs)):
                    yield item

            guarded: Callable[..., Any] = guarded_agen

        elif inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def guarded_gen(*args: Any, **kwargs: Any) -> Any:
                decision = ask(args, kwargs)
                try:
                    with running_tool():
                        items = list(fn(*args, **kwargs))
                except Exception as error:
                    checker.report(decision, failure_output(error))
                    raise
                checker.report(decision, lazy.recorded_form(items))
                yield from items

            guarded = guarded_gen

        elif inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                decision = await aask(args, kwargs)
                try:
                    with running_tool():
                        recorded, value = await lazy.asettle(await fn(*args, **kwargs))
                except Exception as error:
                    await checker.areport(decision, failure_output(error))
                    raise
                await checker.areport(decision, recorded)
                return value

            guarded = guarded_async

        else:

            @functools.wraps(fn)
            def guarded_sync(*args: Any, **kwargs: Any) -> Any:
                decision = ask(args, kwargs)
                try:
                    with running_tool():
                        value = fn(*args, **kwargs)
                        if isinstance(value, collections.abc.AsyncIterator):
                            return _recorded_async(checker, decision, value)
                        recorded, value = lazy.settle(value)
                except Exception as error:
                    checker.report(decision, failure_output(error))
                    raise
                checker.report(decision, recorded)
                return value

            guarded = guarded_sync

        guarded.aecl_action = name  # type: ignore[attr-defined]
        guarded.aecl_guard = checker  # type: ignore[attr-defined]
        return guarded

    return decorate
