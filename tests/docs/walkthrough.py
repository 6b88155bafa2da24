#!/usr/bin/env python3
"""walkthrough.py - helpers for tests/docs/walkthrough.sh (no third-party modules).

  walkthrough.py extract DOC      prints a bash script: every ```sh block of
                                  DOC in order, each followed by a call to
                                  walk_check with the block's expectation
  walkthrough.py shape FILE TMPL  checks the JSON in FILE against the shape
                                  TMPL; prints what differs, exit 1 if any

An expectation is the block's first line: `# expect: STATUS [SHAPE]`. SHAPE is
JSON whose values are either literals that must be equal or type names in
angle brackets: <int> <num> <str> <bool> <null> <list> <object> <any>
<time> (ISO 8601 UTC, ...Z) <url> (https://...) <sha256>, or several joined
with | ("<str|null>"). An object names the keys that must be there (others
may be too); [T] means a non-empty list whose every element matches T; []
an empty list.
"""
import json
import re
import shlex
import sys

EXPECT = re.compile(r"^#\s*expect:\s*(\d{3})\s*(.*)$")


def extract(path):
    out = []
    heading = ""
    in_block = False
    lang = ""
    start = 0
    lines = []
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not in_block:
                if line.startswith("#"):
                    heading = line.lstrip("#").strip()
                if line.startswith("```"):
                    in_block, lang, start, lines = True, line[3:].strip(), no, []
                continue
            if line.startswith("```"):
                in_block = False
                if lang == "sh":
                    out.append(block(path, start, heading, lines))
                continue
            lines.append(line)
    print("\n".join(out))


def block(path, start, heading, lines):
    status, shape = "", ""
    if lines:
        m = EXPECT.match(lines[0])
        if m:
            status, shape = m.group(1), m.group(2).strip()
    where = "%s:%d (%s)" % (path, start, heading)
    return "\n".join(
        ["walk_begin %s" % shlex.quote(where)]
        + lines
        + ["walk_check $? %s %s %s" % (shlex.quote(where), shlex.quote(status), shlex.quote(shape))]
    )


TYPES = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "num": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "list": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "any": lambda v: True,
    "time": lambda v: isinstance(v, str)
    and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", v) is not None,
    "url": lambda v: isinstance(v, str) and v.startswith("https://"),
    "sha256": lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) is not None,
}


def match(tmpl, value, where, problems):
    if isinstance(tmpl, str) and re.fullmatch(r"<[a-z0-9|]+>", tmpl):
        names = tmpl[1:-1].split("|")
        for n in names:
            if n not in TYPES:
                problems.append("%s: unknown type <%s> in the shape" % (where, n))
                return
        if not any(TYPES[n](value) for n in names):
            problems.append("%s: expected %s, got %s" % (where, tmpl, json.dumps(value)))
    elif isinstance(tmpl, dict):
        if not isinstance(value, dict):
            problems.append("%s: expected an object, got %s" % (where, json.dumps(value)))
            return
        for k, t in tmpl.items():
            if k not in value:
                problems.append("%s: no key %r (keys: %s)" % (where, k, ", ".join(value)))
            else:
                match(t, value[k], "%s.%s" % (where, k), problems)
    elif isinstance(tmpl, list):
        if not isinstance(value, list):
            problems.append("%s: expected a list, got %s" % (where, json.dumps(value)))
        elif not tmpl:
            if value:
                problems.append("%s: expected an empty list, got %d items" % (where, len(value)))
        elif not value:
            problems.append("%s: expected a non-empty list" % where)
        else:
            for i, v in enumerate(value):
                match(tmpl[0], v, "%s[%d]" % (where, i), problems)
    elif tmpl != value or isinstance(tmpl, bool) != isinstance(value, bool):
        problems.append("%s: expected %s, got %s" % (where, json.dumps(tmpl), json.dumps(value)))


def shape(path, text):
    try:
        tmpl = json.loads(text)
    except ValueError as e:
        print("the shape is not JSON (%s): %s" % (e, text))
        return 1
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError) as e:
        print("the answer is not JSON: %s" % e)
        return 1
    problems = []
    match(tmpl, value, "$", problems)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "extract":
        extract(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "shape":
        sys.exit(shape(sys.argv[2], sys.argv[3]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
