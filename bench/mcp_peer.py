#!/usr/bin/env python3
"""The MCP gateway's added latency per `tools/call` against a peer (issue #21): `aecl mcp`
beside `mcp-firewall` (PyPI, 0.1.0), in the same run, with the same Python MCP SDK echo
server and client.

What it measures: one Python MCP SDK client (`stdio_client` + `ClientSession`, the
2025-11-25 `initialize` handshake) calls `echo(text)` with a 64-byte text, one call at a
time, each timed alone with `perf_counter_ns` from the request's send to its answer, over
stdio, in these cases:

  direct                     client -> echo server
  via mcp-firewall           client -> `mcp-firewall wrap --config C -- echo server`
                             (C allows the tool by a rule and keeps the audit log on, as
                             its default: one JSON line appended per call, not synced)
  via aecl mcp               client -> `aecl mcp --policy P --agent bench --action-prefix
                             echo__ --db DIR/aecl.db --key K -- echo server` (the policy
                             of crates/aecl-mcp/benches/gateway.rs: catalog action
                             `echo__echo`, effect "read", output trusted; the store a
                             SQLite file in a temporary directory on the disk, as there)
  via aecl mcp, tmpfs        the same with the store on /dev/shm (no fsync cost)

The echo server is this file started again with `--serve-echo` (the SDK's `MCPServer`, the
renamed FastMCP, one tool, unstructured output). Every case has its own session and server
process, all open at once. Each case first makes 200 warm-up calls; then the timed calls
are made in rounds, each round one block of `--block` calls (250) of every case, the
order of the cases rotating from round to round: the cases are interleaved, so that the
machine's drift (other load, frequency, the page cache) affects all of them alike. Also
in the same run: a synced 4 KiB write floor (write + fdatasync, 1,000 times) on the
disk of the aecl store's directory, as the Rust bench measures it.

Printed: p50/p90/p99 (µs) per case, "added" = the case minus direct at the same
percentile, and the ratio aecl-added / mcp-firewall-added at p50 and p99 (the #21
acceptance: at most 1). The mcp-firewall audit log's lines are counted beside the calls
made through it.

How to run (from the repository root; not run in CI):

    cargo build --release -p aecl-cli
    python3 bench/mcp_peer.py --aecl target/release/aecl        # 2,000 calls per case
    python3 bench/mcp_peer.py --calls 500 --aecl target/debug/aecl

The first run creates a private venv under target/bench-venv (`python3 -m venv`) and
installs `mcp` (the version of crates/aecl-mcp/tests/.venv) and `mcp-firewall==0.1.0`
from PyPI into it, then re-runs itself with it. `--dir DIR` puts the disk store (and the
mcp-firewall audit log) in DIR instead of a new temporary directory.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "target" / "bench-venv"
# The SDK of the gateway's own end-to-end tests (crates/aecl-mcp/tests/.venv).
PACKAGES = ["mcp==2.3.0", "mcp-firewall==0.1.0"]
WARM_UP = 200
TEXT = "x" * 64


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def bootstrap() -> None:
    """Re-runs this script with the private venv's Python, making the venv first."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    have = subprocess.run(
        [str(python), "-m", "pip", "freeze"], check=True, capture_output=True, text=True
    ).stdout.lower().splitlines()
    if any(p.lower() not in have for p in PACKAGES):
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def serve_echo() -> None:
    """The echo server: the Python MCP SDK's `MCPServer` over stdio, one tool."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("echo")

    @server.tool(name="echo", description="Answers its text.", structured_output=False)
    def echo(text: str) -> str:
        return text

    server.run("stdio")


def percentile(sorted_ns: list[int], p: float) -> float:
    """Nearest rank, in µs (as the Rust bench)."""
    rank = max(1, min(len(sorted_ns), math.ceil(p / 100.0 * len(sorted_ns))))
    return sorted_ns[rank - 1] / 1000.0


def fsync_floor(directory: Path, times: int = 1000) -> tuple[float, float]:
    """A 4 KiB write and fdatasync in `directory`: p50 and p99 in µs."""
    probe = directory / ".aecl-bench-fsync-probe"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    block = bytes(4096)
    took = []
    try:
        for _ in range(times):
            started = time.perf_counter_ns()
            os.write(fd, block)
            os.fdatasync(fd)
            took.append(time.perf_counter_ns() - started)
    finally:
        os.close(fd)
        probe.unlink(missing_ok=True)
    took.sort()
    return percentile(took, 50), percentile(took, 99)


def setup_aecl(aecl: str, work: Path) -> tuple[Path, Path]:
    """The policy and audit key of crates/aecl-mcp/benches/gateway.rs."""
    policy = work / "policy"
    (policy / "agents").mkdir(parents=True)
    (policy / "policy.toml").write_text('mode = "enforce"\n')
    (policy / "catalog.toml").write_text(
        '[actions.echo__echo]\neffect = "read"\n[actions.echo__echo.output]\ntrust = "trusted"\n'
    )
    (policy / "agents" / "bench.toml").write_text(
        'agent_id = "bench"\nallowed_actions = ["echo__echo"]\n'
    )
    keys = work / "keys"
    subprocess.run(
        [aecl, "keys", "generate", "--name", "aecl.bench/audit", "--out", str(keys)],
        check=True,
        capture_output=True,
    )
    return policy, keys / "audit.key"


def setup_firewall(work: Path) -> tuple[Path, Path]:
    """An mcp-firewall config allowing `echo`, its audit log on (its default) in `work`.

    Everything else is its default (kill switch, injection and egress checks, secret scan of
    responses) but the global rate limit (200 calls a minute by default), which would refuse
    the bench's calls; aecl's policy here has no rate limit either.
    """
    fw = work / "firewall"
    fw.mkdir()
    audit = fw / "mcp-firewall.audit.jsonl"
    config = fw / "mcp-firewall.yaml"
    config.write_text(
        "version: 1\n"
        "defaultAction: deny\n"
        "globalRateLimit:\n  enabled: false\n"
        "rules:\n"
        "  - name: allow-echo\n    tool: echo\n    action: allow\n"
        f"audit:\n  enabled: true\n  path: {audit}\n"
    )
    return config, audit


async def run(args: argparse.Namespace) -> None:
    from contextlib import AsyncExitStack

    from mcp import StdioServerParameters
    from mcp.client.session import ClientSession
    from mcp.client.stdio import stdio_client

    aecl = str(Path(args.aecl).resolve())
    tmp = tempfile.TemporaryDirectory(prefix="aecl-mcp-peer-", dir=args.dir)
    work = Path(tmp.name)
    if args.keep:
        tmp._finalizer.detach()  # noqa: SLF001 (kept for inspection)
    shm = tempfile.TemporaryDirectory(prefix="aecl-mcp-peer-", dir="/dev/shm")
    policy, key = setup_aecl(aecl, work)
    fw_config, fw_audit = setup_firewall(work)

    python = sys.executable
    echo = [python, str(Path(__file__).resolve()), "--serve-echo"]

    def gateway(db: Path) -> list[str]:
        return [
            aecl, "mcp", "--policy", str(policy), "--agent", "bench",
            "--action-prefix", "echo__", "--db", str(db), "--key", str(key), "--", *echo,
        ]  # fmt: skip

    firewall = [str(VENV / "bin" / "mcp-firewall"), "wrap", "--config", str(fw_config), "--", *echo]
    cases = [
        ("direct", echo, None),
        ("via mcp-firewall", firewall, fw_config.parent),
        ("via aecl mcp", gateway(work / "aecl.db"), None),
        ("via aecl mcp, tmpfs", gateway(Path(shm.name) / "aecl.db"), None),
    ]
    times: dict[str, list[int]] = {name: [] for name, _, _ in cases}
    made: dict[str, int] = {name: 0 for name, _, _ in cases}

    async with AsyncExitStack() as stack:
        sessions = {}
        for name, line, cwd in cases:
            # Each process's standard error (the gateways' per-call log lines) to a file.
            errlog = stack.enter_context(open(work / f"{name.replace(' ', '_')}.stderr", "w"))
            params = StdioServerParameters(command=line[0], args=line[1:], cwd=cwd)
            read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            listed = [tool.name for tool in (await session.list_tools()).tools]
            assert "echo" in listed, f"{name}: tools/list gave {listed}"
            sessions[name] = session

        async def call(name: str) -> int:
            started = time.perf_counter_ns()
            result = await sessions[name].call_tool("echo", {"text": TEXT})
            took = time.perf_counter_ns() - started
            made[name] += 1
            if result.is_error or result.content[0].text != TEXT:
                raise SystemExit(f"{name}: the echo call failed: {result}")
            return took

        for name, _, _ in cases:
            for _ in range(WARM_UP):
                await call(name)
        rounds = -(-args.calls // args.block)
        for r in range(rounds):
            block = min(args.block, args.calls - r * args.block)
            order = cases[r % len(cases):] + cases[: r % len(cases)]
            for name, _, _ in order:
                for _ in range(block):
                    times[name].append(await call(name))

    floor = fsync_floor(work)
    audit_lines = sum(1 for _ in open(fw_audit)) if fw_audit.exists() else 0

    report(args, times, floor, audit_lines, made["via mcp-firewall"], work)
    if args.keep:
        print(f"kept {work} (stores, audit log, each process's standard error)")
    else:
        tmp.cleanup()
    shm.cleanup()


def report(args, times, floor, audit_lines, fw_calls, work) -> None:
    pct = (50, 90, 99)
    rows = {name: [percentile(sorted(t), p) for p in pct] for name, t in times.items()}
    direct = rows["direct"]
    load = os.getloadavg()
    print(
        f"aecl: {args.aecl}; {args.calls} calls per case after {WARM_UP} warm-up, "
        f"interleaved in blocks of {args.block}; Python {platform.python_version()}; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; store dir {work}"
    )
    print(f"{'µs':<24}{'p50':>8}{'p90':>8}{'p99':>8}   {'added p50':>10}{'p90':>8}{'p99':>8}")
    added = {}
    for name, values in rows.items():
        line = f"{name:<24}" + "".join(f"{v:8.0f}" for v in values)
        if name != "direct":
            added[name] = [v - d for v, d in zip(values, direct)]
            line += "   " + f"{added[name][0]:10.0f}" + "".join(f"{a:8.0f}" for a in added[name][1:])
        print(line)
    fw = added["via mcp-firewall"]
    for name in ("via aecl mcp", "via aecl mcp, tmpfs"):
        a = added[name]
        print(
            f"ratio {name[4:]:<15} added / mcp-firewall added:  "
            f"p50 {a[0] / fw[0]:.2f}   p99 {a[2] / fw[2]:.2f}"
        )
    # The drift the interleaving spreads over all cases: each round's p50, added.
    per_round = {
        name: [
            percentile(sorted(t[i : i + args.block]), 50) for i in range(0, len(t), args.block)
        ]
        for name, t in times.items()
    }
    for name in added:
        rounds = [v - d for v, d in zip(per_round[name], per_round["direct"])]
        print(f"added p50 per round, {name[4:]:<15}" + "".join(f"{v:6.0f}" for v in rounds))
    print(
        f"synced 4 KiB write on the store's disk: p50 {floor[0]:.0f} µs, p99 {floor[1]:.0f} µs"
    )
    print(f"mcp-firewall audit log: {audit_lines} lines for {fw_calls} calls through it")


def main() -> None:
    if "--serve-echo" in sys.argv[1:]:
        return serve_echo()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aecl", default=str(ROOT / "target" / "release" / "aecl"))
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per case")
    parser.add_argument("--block", type=int, default=250, help="calls per case per round")
    parser.add_argument("--dir", help="where the disk store goes (default: a temporary dir)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if not Path(args.aecl).is_file():
        raise SystemExit(f"no aecl binary at {args.aecl}: build one or pass --aecl")
    if not in_venv():
        return bootstrap()
    import anyio

    anyio.run(run, args)


if __name__ == "__main__":
    main()
