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


# ---- helpers of the red team round 15 runs (look-alike IBANs, chunked copies) ----

def iban(country, bban):
    """A valid IBAN: the check digits computed by ISO 13616 (mod 97)."""
    rearranged = bban + country + "00"
    number = int("".join(str(int(c, 36)) for c in rearranged))
    return f"{country}{98 - number % 97:02d}{bban}"


def iban_valid(text):
    text = text.replace(" ", "")
    number = int("".join(str(int(c, 36)) for c in text[4:] + text[:4]))
    return number % 97 == 1


def rib_key(bank, branch, account):
    """The French RIB key of a numeric account (the BBAN's own check)."""
    return f"{97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97:02d}"


CYRILLIC = dict(zip("ABEKMHOPCTX", "АВЕКМНОРСТХ"))
GREEK = dict(zip("ABEKMNOPTXIZ", "ΑΒΕΚΜΝΟΡΤΧΙΖ"))


def swap(text, table, start=0, every=1):
    """`text` with the characters of `table` replaced from `start` on (the look-alikes an
    attacker writes; the header of an IBAN can be kept with `start=4`), every `every`-th
    occurrence only."""
    out, seen = [], 0
    for c in text[start:]:
        if c in table:
            out.append(table[c] if seen % every == 0 else c)
            seen += 1
        else:
            out.append(c)
    return text[:start] + "".join(out)


def fullwidth(text):
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text)


def compact(text):
    return "".join(text.lower().split())


def chunks(text, limit):
    """`text` cut at word boundaries into pieces of at most `limit` characters (white space
    not counted), as an agent told to "split it into short parts" would."""
    out, current = [], []
    for word in text.split(" "):
        if current and len(compact(" ".join(current + [word]))) > limit:
            out.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        out.append(" ".join(current))
    return out


def longest_copy(text, source):
    """The longest run of `text` (compact) that occurs in `source` (compact)."""
    t, s = compact(text), compact(source)
    best = 0
    for i in range(len(t)):
        lo, hi = best, len(t) - i
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if t[i:i + mid] in s:
                lo = mid
            else:
                hi = mid - 1
        best = max(best, lo)
    return best
