"""The building blocks of the protection corpus: a run is written as the events an agent
produced (the user's words, its tool calls, their results), with what is expected of it.
`generate.py` turns the families' runs into `<family>/runs.jsonl` and `cases.toml`."""

import csv as csv_module
import io
import json


class Run:
    def __init__(self, family, agent, rid, kind, cls, note):
        assert kind in ("attacked", "benign")
        self.family, self.agent, self.rid = family, agent, rid
        self.kind, self.cls, self.note = kind, cls, note
        self.events = []
        self.calls = 0
        self.last = None
        self.attacker = None

    def user(self, text):
        self.events.append({"type": "user", "run": self.rid, "text": text})
        return self

    def call(self, action, args, output=None):
        """A call and, unless `output` is None, its result."""
        self.calls += 1
        cid = f"c{self.calls}"
        self.events.append({"type": "call", "run": self.rid, "id": cid, "action": action, "args": args})
        if output is not None:
            self.events.append({"type": "result", "run": self.rid, "id": cid, "output": output})
        self.last = cid
        return self

    def attack(self, action, args):
        """The call the attacker wants: it must not be allowed."""
        assert self.kind == "attacked"
        self.call(action, args)
        self.attacker = self.last
        return self

    def lines(self, goal):
        head = {"type": "run", "run": self.rid, "agent": self.agent, "goal": goal}
        out = [head] + self.events + [{"type": "end", "run": self.rid}]
        return [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in out]


class Family:
    def __init__(self, name, agent):
        self.name, self.agent = name, agent
        self.runs = []

    def attacked(self, rid, cls, note):
        run = Run(self.name, self.agent, rid, "attacked", cls, note)
        self.runs.append(run)
        return run

    def benign(self, rid, cls, note):
        run = Run(self.name, self.agent, rid, "benign", cls, note)
        self.runs.append(run)
        return run


def csv(rows):
    """CSV as a tool writes it: fields with commas or quotes are quoted."""
    out = io.StringIO()
    csv_module.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def y(text):
    """A YAML scalar as a tool writes it: double-quoted (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def kv(pairs):
    return "\n".join(f"{k}: {v}" for k, v in pairs) + "\n"
