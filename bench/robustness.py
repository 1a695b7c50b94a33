#!/usr/bin/env python3
"""Meaning-preserving transformations of the corpus' bounce messages.

Run by bench/robustness.lua (make robustness), standard library only:

    python3 bench/robustness.py CORPUS_DIR OUT_DIR ORIGINALS_JSONL

CORPUS_DIR/labels.jsonl names the files; ORIGINALS_JSONL holds, for each file,
the recipients bounce.parse found in each of its messages (the transformations
that touch addresses or add a recipient need them). For every file and every
transformation that applies to it, the transformed file is written to
OUT_DIR/NAME/BASENAME and described by one line of OUT_DIR/manifest.jsonl:

    {"t": NAME, "file": "maildir/bsd/x.eml", "out": "NAME/x.eml",
     "rcpt_map": {old: new}, "at_shift": seconds,
     "added": [record], "added_copy": [{"from": rcpt, "rcpt": new}]}

OUT_DIR/transforms.jsonl lists the transformations in order with what each
does (its docstring).

A transformation changes how a bounce is written, never what it says: the
same recipients with the same results, except where a transformation states
its own change (rcpt_map: addresses renamed; at_shift: every date moved by the
same amount; added / added_copy: a recipient added, with its own result).

Messages are handled as bytes in a MIME tree that serialises back to the exact
input (checked on every file before anything is written); a transformation
edits the tree. Everything is seeded from the file and transformation names,
so two runs write the same bytes. Exit status 1 means the suite itself broke
(a message that does not round-trip, a transformation that raised or wrote a
malformed result), never that a parser gave other results.
"""

import base64
import binascii
import codecs
import datetime
import json
import os
import quopri
import random
import re
import sys
import zlib

# --------------------------------------------------------------------------
# Bytes and lines

def eol_of(data):
    """The line ending a message mostly uses."""
    crlf = data.count(b"\r\n")
    return b"\r\n" if crlf * 2 > data.count(b"\n") else b"\n"


def split_lines(data):
    """Lines with their endings (only LF ends a line; CR stays in it)."""
    out = data.split(b"\n")
    lines = [l + b"\n" for l in out[:-1]]
    if out[-1]:
        lines.append(out[-1])
    return lines


def strip_eol(line):
    if line.endswith(b"\r\n"):
        return line[:-2]
    if line.endswith(b"\n"):
        return line[:-1]
    return line


def line_end(line):
    return line[len(strip_eol(line)):]


def L(b):
    return b.decode("latin-1")


def B(s):
    return s.encode("latin-1")


# --------------------------------------------------------------------------
# Header fields

FIELD_START = re.compile(rb"^[!-9;-~]+[ \t]*:")


class Field:
    """One header field, raw: its first line and continuation lines."""

    def __init__(self, raw):
        self.raw = raw
        m = FIELD_START.match(raw)
        self.name = L(raw[:raw.index(b":")]).strip().lower() if m else None

    def value(self):
        """Unfolded value as text (latin-1), without the name."""
        if self.name is None:
            return ""
        v = self.raw[self.raw.index(b":") + 1:]
        v = re.sub(rb"\r?\n(?=[ \t])", b"", v)
        return L(strip_eol(v)).strip()


def parse_fields(head):
    """Header block bytes -> list of Field (continuation lines kept)."""
    fields = []
    for line in split_lines(head):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].raw += line
        else:
            fields.append(Field(line))
    for f in fields:
        f.__init__(f.raw)
    return fields


def split_head(data):
    """Message or part bytes -> (header bytes, blank line, body bytes).

    The header ends at the first empty line; a first line that is not a
    header field means a part without headers (and without a blank line)."""
    pos = 0
    for i, line in enumerate(split_lines(data)):
        if not strip_eol(line):
            return data[:pos], line, data[pos + len(line):]
        if not (i > 0 and line[:1] in (b" ", b"\t")) and not FIELD_START.match(line):
            return data[:pos], b"", data[pos:]
        pos += len(line)
    return data, b"", b""


def parse_params(value):
    """'type/sub; a=b; c="d"' -> ('type/sub', {a: b, c: d})."""
    parts = re.split(r';(?=(?:[^"]*"[^"]*")*[^"]*$)', value)
    ctype = parts[0].strip().lower()
    params = {}
    for p in parts[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            v = v.strip()
            if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
                v = re.sub(r'\\(.)', r'\1', v[1:-1])
            params[k.strip().lower()] = v
    return ctype, params


# --------------------------------------------------------------------------
# The MIME tree

MACHINE_TYPES = ("message/delivery-status", "message/global-delivery-status",
                 "message/feedback-report")
HEADER_BLOCK_TYPES = MACHINE_TYPES + ("text/rfc822-headers", "message/global-headers")


class Part:
    """A message or body part. kind: 'multi' (parts between delimiter
    lines), 'message' (message/rfc822: inner is a Part) or 'leaf'. The
    line ending before a delimiter line stays at the end of the part before
    it, so serialize() gives back the input bytes exactly."""

    def __init__(self, data, default_type="text/plain", depth=0):
        head, self.sep, body = split_head(data)
        self.fields = parse_fields(head) if head else []
        self.depth = depth
        ctype = self.get("content-type")
        self.ctype, self.params = parse_params(ctype) if ctype else (default_type, {})
        self.cte = (self.get("content-transfer-encoding") or "7bit").strip().lower()
        self.kind = "leaf"
        self.body = body
        boundary = self.params.get("boundary")
        if self.ctype.startswith("multipart/") and boundary and depth < 20:
            self._split(body, B(boundary))
        elif self.ctype in ("message/rfc822", "message/global") and \
                self.cte in ("7bit", "8bit", "binary") and depth < 20 and body.strip():
            self.kind = "message"
            self.inner = Part(body, depth=depth + 1)

    def _split(self, body, boundary):
        self.kind = "multi"
        self.boundary = boundary
        self.preamble, self.delims, self.parts = b"", [], []
        self.close, self.epilogue = None, b""
        dash = b"--" + boundary
        sub = "message/rfc822" if self.ctype == "multipart/digest" else "text/plain"
        cur = None
        acc = []
        for line in split_lines(body):
            if self.close is not None:
                acc.append(line)
                continue
            s = strip_eol(line).rstrip(b" \t")
            if s == dash or s == dash + b"--":
                chunk = b"".join(acc)
                if cur is None:
                    self.preamble = chunk
                else:
                    self.parts.append(Part(chunk, sub, self.depth + 1))
                acc = []
                if s == dash:
                    self.delims.append(line)
                    cur = True
                else:
                    self.close = line
            else:
                acc.append(line)
        chunk = b"".join(acc)
        if self.close is not None:
            self.epilogue = chunk
        elif cur is None:
            self.preamble = chunk
        else:
            self.parts.append(Part(chunk, sub, self.depth + 1))

    # fields
    def get(self, name):
        for f in self.fields:
            if f.name == name:
                return f.value()
        return None

    def field(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def set_field(self, name, value, eol, after=None):
        """Replaces the first field NAME, or adds it (after the field named
        AFTER when there is one, else at the end of the header)."""
        raw = B(name + ": " + value) + eol
        for f in self.fields:
            if f.name == name.lower():
                f.__init__(raw)
                return
        new = Field(raw)
        idx = len(self.fields)
        for i, f in enumerate(self.fields):
            if after and f.name == after:
                idx = i + 1
        self.fields.insert(idx, new)
        if not self.sep:
            self.sep = eol

    def serialize(self):
        out = [f.raw for f in self.fields]
        out.append(self.sep)
        if self.kind == "multi":
            out.append(self.preamble)
            for d, p in zip(self.delims, self.parts):
                out.append(d)
                out.append(p.serialize())
            if self.close is not None:
                out.append(self.close)
            out.append(self.epilogue)
        elif self.kind == "message":
            out.append(self.inner.serialize())
        else:
            out.append(self.body)
        return b"".join(out)

    def walk(self, into_messages=True):
        """Every part, depth first; into message/rfc822 parts when asked."""
        yield self
        if self.kind == "multi":
            for p in self.parts:
                yield from p.walk(into_messages)
        elif self.kind == "message" and into_messages:
            yield from self.inner.walk(into_messages)

    def skeleton(self):
        if self.kind == "multi":
            return (self.ctype, tuple(p.skeleton() for p in self.parts))
        if self.kind == "message":
            return (self.ctype, self.inner.skeleton())
        return self.ctype

    # leaf bodies
    def decoded(self, trailing):
        """A leaf's content, transfer encoding undone. `trailing` is the line
        ending that belongs to the next delimiter (b'' for a message body)."""
        body = self.body
        if trailing and body.endswith(trailing):
            body = body[:-len(trailing)]
        if self.cte == "base64":
            try:
                return binascii.a2b_base64(re.sub(rb"[^A-Za-z0-9+/=]", b"", body))
            except binascii.Error:
                return None
        if self.cte == "quoted-printable":
            return quopri.decodestring(body)
        return body

    def set_decoded(self, content, trailing, eol, cte=None, width=76):
        """Stores CONTENT in the leaf, encoded with CTE (default: its own).
        TRAILING non-empty: the part is followed by a delimiter line, and a
        line ending is kept for it."""
        cte = cte or self.cte
        tail = eol if trailing else b""
        if cte == "base64":
            enc = base64.b64encode(re.sub(rb"\r?\n", b"\r\n", content))
            body = eol.join(enc[i:i + width] for i in range(0, len(enc), width)) + eol
        elif cte == "quoted-printable":
            body = qp_encode(content, eol, min(width, 76)) + (eol if content.endswith(b"\n") else b"") + tail
        else:
            body = re.sub(rb"\r?\n", eol, content) + tail
        self.body = body
        self.cte = cte


def qp_encode(content, eol, width=76):
    """Quoted-printable, lines from CONTENT (LF or CRLF), soft breaks so that
    no line is longer than WIDTH (76 at most, RFC 2045 6.7), a leading
    'From ' and '.' encoded (as careful mailers do)."""
    text = re.sub(rb"\r\n", b"\n", content)
    if text.endswith(b"\n"):
        text = text[:-1]
    out = []
    for line in text.split(b"\n"):
        enc = []
        for i, c in enumerate(line):
            ch = bytes([c])
            last = i == len(line) - 1
            if c in (9, 32) and not last:
                enc.append(ch)
            elif 33 <= c <= 126 and c != 61:
                enc.append(ch)
            else:
                enc.append(b"=%02X" % c)
        if line.startswith(b"From "):
            enc[0] = b"=46"
        elif line.startswith(b"."):
            enc[0] = b"=2E"
        cur, n = [], 0
        for e in enc:
            if n + len(e) > width - 1:
                out.append(b"".join(cur) + b"=")
                cur, n = [], 0
            cur.append(e)
            n += len(e)
        out.append(b"".join(cur))
    return eol.join(out)


def trailing_of(part, parent_is_multi):
    """The line ending at the end of a part that belongs to the delimiter."""
    if not parent_is_multi:
        return b""
    return line_end(part.body) if part.body else b""


def leaves(part, into_messages=False, parent_multi=False):
    """(leaf, trailing) pairs at the bounce's own level (not inside
    message/rfc822 unless asked)."""
    if part.kind == "multi":
        for p in part.parts:
            yield from leaves(p, into_messages, True)
    elif part.kind == "message":
        if into_messages:
            yield from leaves(part.inner, into_messages, False)
    else:
        yield part, trailing_of(part, parent_multi)


def textual(ctype):
    return ctype.startswith("text/") or ctype.startswith("message/") or \
        "json" in ctype or "xml" in ctype


def set_cte(part, cte, eol):
    """Sets a part's Content-Transfer-Encoding field (a message without MIME
    headers gets MIME-Version too, so that the field means something)."""
    if part.depth == 0 and part.get("mime-version") is None:
        part.set_field("MIME-Version", "1.0", eol)
    part.set_field("Content-Transfer-Encoding", cte, eol, after="content-type")
    part.cte = cte


# --------------------------------------------------------------------------
# RFC 2047 encoded words

EW = re.compile(r"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=")


def ew_decode(enc, payload):
    if enc in "Bb":
        try:
            return base64.b64decode(payload + "=" * (-len(payload) % 4))
        except (binascii.Error, ValueError):
            return None
    return quopri.decodestring(B(payload.replace("_", " ")), header=True)


def ew_encode(data, charset, enc):
    if enc in "Bb":
        return "=?%s?B?%s?=" % (charset, L(base64.b64encode(data)))
    out = []
    for c in data:
        ch = chr(c)
        if ch.isalnum() and c < 128 or ch in "!*+-/":
            out.append(ch)
        elif c == 32:
            out.append("_")
        else:
            out.append("=%02X" % c)
    return "=?%s?Q?%s?=" % (charset, "".join(out))


def map_field(raw, fn):
    """Applies FN (text -> text) to a header field: to its plain text, and to
    the decoded text of each encoded word (re-encoded alike when changed)."""
    s = L(raw)
    out, pos = [], 0
    for m in EW.finditer(s):
        out.append(fn(s[pos:m.start()]))
        data = ew_decode(m.group(2), m.group(3))
        new = fn(L(data)) if data is not None else None
        if new is None or B(new) == data:
            out.append(m.group(0))
        else:
            out.append(ew_encode(B(new), m.group(1), m.group(2)))
        pos = m.end()
    out.append(fn(s[pos:]))
    return B("".join(out))


BOUNDARY_PARAM = re.compile(rb'(?i)boundary[ \t\r\n]*=[ \t\r\n]*("(?:[^"\\]|\\.)*"|[^\s;]+)')


def map_text(part, fn, eol, parent_multi=False):
    """Applies FN (text -> text, latin-1) to every byte of a message that is
    text: header fields (boundaries aside), preambles, leaf bodies (decoded first
    when base64 or quoted-printable, and encoded back alike). Each region
    goes through FN exactly once. Encoded leaves that are not text
    (images, archives) are left alone."""
    for f in part.fields:
        m = BOUNDARY_PARAM.search(f.raw) if part.kind == "multi" and f.name == "content-type" else None
        if m:
            # the boundary stays as it is (its delimiter lines are not text)
            new = map_field(f.raw[:m.start()], fn) + m.group(0) + map_field(f.raw[m.end():], fn)
        else:
            new = map_field(f.raw, fn)
        if new != f.raw:
            f.__init__(new)
    if part.kind == "multi":
        part.preamble = B(fn(L(part.preamble)))
        part.epilogue = B(fn(L(part.epilogue)))
        for p in part.parts:
            map_text(p, fn, eol, True)
    elif part.kind == "message":
        map_text(part.inner, fn, eol)
    elif part.cte in ("base64", "quoted-printable"):
        if textual(part.ctype):
            trailing = trailing_of(part, parent_multi)
            content = part.decoded(trailing)
            if content is not None:
                new = B(fn(L(content)))
                if new != content:
                    part.set_decoded(new, trailing, eol)
    else:
        part.body = B(fn(L(part.body)))


# --------------------------------------------------------------------------
# Files: a message, or an mbox of messages (envelope line, message)

ENVELOPE = re.compile(rb"\S+\s+[A-Za-z]{3} [A-Za-z]{3} +\d\d? \d\d:\d\d")


def mbox_split(data):
    """[(envelope line or None, message bytes)]: mboxrd, as bounce.messages
    reads it (a 'From ' line at the start, after a blank line, or that reads
    as an envelope line starts a message; '>From' lines lose one '>')."""
    if not data.startswith(b"From "):
        return [(None, data)]
    msgs, env, cur, prev_blank = [], None, [], True
    for line in split_lines(data):
        if line.startswith(b"From ") and (prev_blank or ENVELOPE.match(line[5:])):
            if env is not None:
                msgs.append((env, b"".join(cur)))
            env, cur = line, []
        else:
            if re.match(rb">+From ", line):
                line = line[1:]
            cur.append(line)
        prev_blank = not strip_eol(line)
    msgs.append((env, b"".join(cur)))
    return msgs


def mbox_escape(msg):
    return b"".join(b">" + l if re.match(rb">*From ", l) else l for l in split_lines(msg))


def mbox_join(msgs, eol):
    """The file again: a single message as it is, an mbox with each message
    escaped (mboxrd) after its envelope line."""
    if len(msgs) == 1 and msgs[0][0] is None:
        return msgs[0][1]
    out = []
    for i, (env, msg) in enumerate(msgs):
        if i < len(msgs) - 1 and not msg.endswith(b"\n"):
            msg += eol
        out.append(env + mbox_escape(msg))
    return b"".join(out)


# --------------------------------------------------------------------------
# Seeded choices

WORDS = ["corvid", "tessera", "quillon", "brindle", "palisade", "marrow", "juniper",
         "lantern", "sorrel", "tamarind", "vellum", "alder", "cobalt", "heron", "ochre"]
# New local parts are two names, no digits: 'teodor.450@' would hand a
# careless reader a reply code.
NAMES = ["mirela", "tanvir", "oskari", "beatriz", "kwame", "ingrid", "haruto", "zofia",
         "lucian", "amara", "teodor", "nadia", "elias", "sunniva", "ravi", "odile"]


def rng_for(name, file):
    return random.Random(zlib.crc32(("%s:%s" % (name, file)).encode()))


# --------------------------------------------------------------------------
# Transformations. Each takes (message bytes, Ctx) and returns the new bytes,
# or None when it does not apply to the message. Ctx carries the seeded
# random source, the line ending, the recipients bounce.parse found in the
# original, and collects what the comparison must know (meta).

class Ctx:
    def __init__(self, name, file, rcpts):
        self.name, self.file = name, file
        self.rng = rng_for(name, file)
        self.rcpts = rcpts          # records of this message: [{rcpt, action, ...}]
        self.meta = {}
        self.eol = b"\n"


def t_crlf(msg, ctx):
    """Line endings flipped: CRLF everywhere when the message mostly used LF,
    LF everywhere otherwise. RFC 5322 mail is CRLF on the wire; files keep
    whichever the writer used."""
    if ctx.eol == b"\r\n":
        return msg.replace(b"\r\n", b"\n")
    return re.sub(rb"(?<!\r)\n", b"\r\n", msg)


def refold_field(raw, width, eol):
    """Unfolds a field and folds it again at WIDTH: a line break goes in
    front of existing white space only (RFC 5322 2.2.3: unfolding removes
    exactly the CRLF), never before the first word of the value."""
    end = line_end(raw) or eol
    u = re.sub(rb"\r?\n(?=[ \t])", b"", strip_eol(raw))
    colon = u.index(b":")
    m = re.search(rb"[^ \t]", u[colon + 1:])
    if not m:
        return raw
    first = colon + 1 + m.start()
    cuts = [i for i in range(first + 1, len(u))
            if u[i] in b" \t" and u[i - 1] not in b" \t" and u[i:].strip(b" \t")]
    segs, prev = [], 0
    for c in cuts:
        segs.append(u[prev:c])
        prev = c
    segs.append(u[prev:])
    lines, cur = [], segs[0]
    for s in segs[1:]:
        if len(cur) + len(s) > width:
            lines.append(cur)
            cur = s
        else:
            cur += s
    lines.append(cur)
    return eol.join(lines) + end


def refold_block(data, width, eol):
    """Refolds the fields of header-like blocks (a delivery-status body,
    text/rfc822-headers): groups of fields separated by blank lines."""
    out, group = [], []

    def flush():
        for f in parse_fields(b"".join(group)):
            out.append(refold_field(f.raw, width, eol) if f.name else f.raw)
        group.clear()
    for line in split_lines(data):
        if not strip_eol(line).strip(b" \t"):
            flush()
            out.append(line)
        else:
            group.append(line)
    flush()
    return b"".join(out)


def t_refold(msg, ctx):
    """Every header field unfolded and folded again at another width (24 to
    48 columns): the message's, each part's, the returned message's, and the
    fields of delivery-status, feedback-report and text/rfc822-headers
    bodies (RFC 3464 2.1: those follow the header syntax, folding included)."""
    width = ctx.rng.choice([24, 32, 40, 48])
    ctx.meta["width"] = width
    root = Part(msg)
    for p in root.walk():
        for f in p.fields:
            if f.name:
                f.__init__(refold_field(f.raw, width, ctx.eol))
        if p.kind == "leaf" and p.ctype in HEADER_BLOCK_TYPES and p.cte in ("7bit", "8bit", "binary"):
            p.body = refold_block(p.body, width, ctx.eol)
    return root.serialize()


def reencode_targets(root):
    """The text leaves of the bounce itself (not of the message it returns):
    text/* parts, or the whole body of a single-part message. Delivery-status
    and feedback-report parts stay 7bit: RFC 3464 2.1 and RFC 5965 say that
    encoding MUST be used."""
    out = []
    for leaf, trailing in leaves(root):
        if leaf.ctype.startswith("text/") or leaf.ctype in ("message/global-delivery-status",
                                                              "message/global-headers"):
            if leaf.cte in ("7bit", "8bit", "binary", "base64", "quoted-printable"):
                out.append((leaf, trailing))
    return out


def reencode(msg, ctx, want):
    root = Part(msg)
    changed = False
    # base64 lines of 60 to 76, quoted-printable soft breaks at 40 to 76
    width = ctx.rng.choice([40, 56, 76] if want == "quoted-printable" else [60, 72, 76])
    for leaf, trailing in reencode_targets(root):
        if leaf.cte == want or (want == "8bit" and leaf.cte not in ("base64", "quoted-printable")):
            continue
        content = leaf.decoded(trailing)
        if content is None:
            continue
        cte = want
        if want == "8bit":
            if b"\0" in content or any(len(strip_eol(l)) > 998 for l in split_lines(content)) \
                    or re.search(rb"\r(?!\n)", content):
                continue
            cte = "8bit" if re.search(rb"[\x80-\xff]", content) else "7bit"
        leaf.set_decoded(content, trailing, ctx.eol, cte, width)
        set_cte(leaf, cte, ctx.eol)
        changed = True
    return root.serialize() if changed else None


def t_qp(msg, ctx):
    """Text parts quoted-printable (soft breaks at 40, 56 or 76 columns,
    '=46rom' at a line start)."""
    return reencode(msg, ctx, "quoted-printable")


def t_base64(msg, ctx):
    """Text parts base64 (of the canonical CRLF form, RFC 2045 6.8)."""
    return reencode(msg, ctx, "base64")


def t_8bit(msg, ctx):
    """Base64 and quoted-printable text parts decoded to 8bit (7bit when
    ASCII)."""
    return reencode(msg, ctx, "8bit")


def top(msg, name):
    f = Part(msg).field(name)
    return f.raw if f else None


def rfc822_cte(msg):
    """The encoding a message/rfc822 part holding MSG must declare (base64
    and quoted-printable are not allowed there, RFC 2046 5.2.1)."""
    if re.search(rb"\r(?!\n)|\x00", msg):
        return "binary"
    return "8bit" if re.search(rb"[\x80-\xff]", msg) else "7bit"


def t_nested(msg, ctx):
    """The whole bounce as a message/rfc822 body, in an envelope message with
    the bounce's From, To, Subject and Date, as a gateway or a quarantine
    release hands it on."""
    eol = ctx.eol
    head = [top(msg, n) for n in ("from", "to", "subject", "date")]
    head = [h for h in head if h]
    mid = "<%08x.nested@relay.example.net>" % ctx.rng.getrandbits(32)
    head += [B("Message-ID: " + mid) + eol, b"MIME-Version: 1.0" + eol,
             b"Content-Type: message/rfc822" + eol,
             B("Content-Transfer-Encoding: " + rfc822_cte(msg)) + eol]
    return b"".join(head) + eol + msg


def t_forwarded(msg, ctx):
    """The bounce forwarded by a person as an attachment (multipart/mixed: a
    line of text, then the bounce as message/rfc822), as when a mailbox owner
    sends a bounce on to the team that handles them."""
    eol = ctx.eol
    subj = Part(msg).get("subject") or ""
    date = top(msg, "date") or b"Date: Mon, 2 Jan 2023 10:00:00 +0000" + eol
    bnd = "fwd-%016x" % ctx.rng.getrandbits(64)
    lines = [
        "From: Dana Okafor <dana.okafor@operations.example.net>",
        "To: deliverability@operations.example.net",
        "Subject: Fwd: " + subj,
        L(strip_eol(date)),
        "Message-ID: <%08x.fwd@operations.example.net>" % ctx.rng.getrandbits(32),
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="%s"' % bnd,
        "",
        "This is a multi-part message in MIME format.",
        "--" + bnd,
        "Content-Type: text/plain; charset=us-ascii",
        "Content-Transfer-Encoding: 7bit",
        "",
        "Hi team, this came back to my mailbox this morning; the original is attached.",
        "Dana",
        "",
        "--" + bnd,
        "Content-Type: message/rfc822",
        "Content-Transfer-Encoding: " + rfc822_cte(msg),
        'Content-Disposition: attachment; filename="returned.eml"',
        "",
    ]
    body = msg if msg.endswith(b"\n") else msg + eol
    return eol.join(B(l) for l in lines) + eol + body + B("--" + bnd + "--") + eol


def ensure_eol(part, eol):
    """Makes a part end with a line ending (one that moves away from the end
    of a multipart needs it before the delimiter that now follows it)."""
    if part.serialize().endswith(b"\n"):
        return
    if part.kind == "leaf":
        part.body += eol
    elif part.kind == "message":
        ensure_eol(part.inner, eol)
    elif part.close is not None:
        part.epilogue += eol
    elif part.parts:
        ensure_eol(part.parts[-1], eol)
    else:
        part.preamble += eol


def t_dsn_moved(msg, ctx):
    """The machine-readable part of a report (delivery-status or
    feedback-report) moved: to the front, or to the end after the returned
    message (seeded, half each; to the other end when it is at one already).
    RFC 6522 orders the parts, but the part's type says what it is."""
    root = Part(msg)
    for p in root.walk():
        if p.kind != "multi" or len(p.parts) < 2:
            continue
        idx = [i for i, c in enumerate(p.parts) if c.ctype in MACHINE_TYPES]
        if not idx:
            continue
        i = idx[0]
        pairs = list(zip(p.delims, p.parts))
        for _, c in pairs:
            ensure_eol(c, ctx.eol)
        moved = pairs.pop(i)
        if i == 0 or (i < len(pairs) and ctx.rng.random() < 0.5):
            pairs.append(moved)
        else:
            pairs.insert(0, moved)
        p.delims = [d for d, _ in pairs]
        p.parts = [c for _, c in pairs]
        return root.serialize()
    return None


BOUNDARY_STYLES = [
    lambda r: "----=_Part_%d_%d.%d" % (r.randint(1, 99999), r.randint(1, 2**31), r.randint(10**12, 10**13)),
    lambda r: "=_%016x" % r.getrandbits(64),
    lambda r: "Apple-Mail=_%08X-%04X-%04X-%04X-%012X" % (r.getrandbits(32), r.getrandbits(16),
                                                         r.getrandbits(16), r.getrandbits(16), r.getrandbits(48)),
    lambda r: "%X.%d/mta%d.relay.example.net" % (r.getrandbits(40), r.randint(10**9, 2 * 10**9), r.randint(1, 9)),
    lambda r: "_004_%08x%08xrelay_" % (r.getrandbits(32), r.getrandbits(32)),
    lambda r: "b%d" % r.randint(1, 999),
]


def t_boundaries(msg, ctx):
    """Every multipart boundary renamed, in its Content-Type parameter and in
    its delimiter lines (styles of other mailers: Java, Apple, sendmail,
    Exchange, a short token)."""
    root = Part(msg)
    changed = False
    used = set()
    for p in root.walk():
        if p.kind != "multi":
            continue
        for _ in range(20):
            new = ctx.rng.choice(BOUNDARY_STYLES)(ctx.rng)
            if new not in used and B("--" + new) not in msg:
                break
        used.add(new)
        f = p.field("content-type")
        raw = L(f.raw)
        quoted = '"%s"' % new if re.search(r"[^A-Za-z0-9'+_,.-]", new) or ctx.rng.random() < 0.5 else new
        raw2, n = re.subn(r'(?i)(boundary[ \t\r\n]*=[ \t\r\n]*)("(?:[^"\\]|\\.)*"|[^\s;]+)',
                          lambda m: m.group(1) + quoted, raw, count=1)
        if n != 1:
            raise RuntimeError("boundary parameter not found")
        f.__init__(B(raw2))
        p.delims = [B("--" + new) + line_end(d) for d in p.delims]
        if p.close is not None:
            p.close = B("--" + new + "--") + line_end(p.close)
        changed = True
    return root.serialize() if changed else None


# --------------------------------------------------------------------------
# Addresses, hosts and dates

ADDR_RE = re.compile(r"(?<![A-Za-z0-9._%+=-])[A-Za-z0-9._%+=-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", re.A)
DOMAIN_RE = re.compile(r"(?<![A-Za-z0-9-])(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?![A-Za-z0-9-])", re.A)
DOC_IP = re.compile(r"(?<![\d.])(192\.0\.2|198\.51\.100|203\.0\.113)\.(\d{1,3})(?!\d|\.\d)")
# The corpus is anonymised with these names: a domain under one of them is
# nobody's in particular and can be renamed. Provider domains (gmail.com,
# ezweb.ne.jp, ...) are kept: which provider answered is part of the meaning.
PLACEHOLDERS = {"example", "libsisimai", "bouncehammer"}
SECOND_LEVEL = {"co", "ne", "or", "ed", "ac", "go", "gr", "lg", "com", "net", "org", "edu"}
# Local parts that are roles or words, never renamed where they stand alone
# (the corpus' test addresses are named after reasons: mailboxfull@...).
KEEP_LOCAL = {"postmaster", "mailer-daemon", "root", "bounce", "bounces", "complaint",
              "success", "abuse", "admin", "info", "user", "test", "nobody", "support",
              "noreply", "no-reply", "webmaster", "daemon", "mail"}
REASONS = {"authfailure", "badreputation", "blocked", "contenterror", "delivered", "exceedlimit",
           "expired", "feedback", "filtered", "hasmoved", "hostunknown", "mailboxfull",
           "mailererror", "mesgtoobig", "networkerror", "norelaying", "notaccept", "notcompliantrfc",
           "onhold", "policyviolation", "rejected", "requireptr", "securityerror", "spamdetected",
           "speeding", "suspend", "syntaxerror", "systemerror", "systemfull", "toomanyconn",
           "undefined", "userunknown", "vacation", "virusdetected", "failedstarttls"}


def base_of(domain):
    labels = domain.lower().split(".")
    if len(labels) >= 3 and labels[-2] in SECOND_LEVEL and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def address_of(s):
    m = ADDR_RE.search(s or "")
    return m.group(0).lower() if m else None


def recipients_named(msg, ctx):
    """Addresses the bounce names as recipients: bounce.parse's, the DSN's
    Final-/Original-Recipient fields, X-Failed-Recipients."""
    out = []
    for r in ctx.rcpts:
        a = address_of(r.get("rcpt"))
        if a:
            out.append(a)
    text = L(msg)
    for m in re.finditer(r"(?im)^(?:final|original)-recipient:[^;\n]*;\s*<?([^\s>]+)", text):
        a = address_of(m.group(1))
        if a:
            out.append(a)
    for m in re.finditer(r"(?im)^x-failed-recipients:(.*(?:\r?\n[ \t].*)*)", text):
        out += [a.lower() for a in ADDR_RE.findall(m.group(1))]
    seen = []
    for a in out:
        if a not in seen:
            seen.append(a)
    return seen


def address_fn(msg, ctx):
    """The text rewrite of the 'addresses' transformation: recipients get new
    local parts, anonymised domains new names (host names under them with
    them), documentation IP addresses other ones; all consistently."""
    # each name seeded by the file and the name it replaces: the same
    # address gets the same new one in every message of a file
    def rng(what):
        return rng_for("addresses:" + what, ctx.file)
    text = L(msg).lower()
    bases = sorted({base_of(d) for d in DOMAIN_RE.findall(L(msg))
                    if base_of(d).split(".")[0] in PLACEHOLDERS}, key=len, reverse=True)
    dmap = {}
    for b in bases:
        r = rng(b)
        for _ in range(50):
            new = "-".join(r.sample(WORDS, 2)) + b[b.index("."):]
            if new not in dmap.values() and new not in text:
                break
        dmap[b] = new

    def map_domain(d):
        low = d.lower()
        for b in bases:
            if low == b or low.endswith("." + b):
                return low[:len(low) - len(b)] + dmap[b]
        return low
    amap, lmap, verp = {}, {}, {}
    for a in recipients_named(msg, ctx):
        local, dom = a.rsplit("@", 1)
        if local not in lmap:
            r = rng(local)
            for _ in range(50):
                new = "%s.%s" % tuple(r.sample(NAMES, 2))
                if new not in lmap.values() and new not in text:
                    break
            lmap[local] = new
        amap[a] = lmap[local] + "@" + map_domain(dom)
        verp[local + "=" + dom] = lmap[local] + "=" + map_domain(dom)
    ipmap = {}
    for m in DOC_IP.finditer(L(msg)):
        if m.group(0) not in ipmap:
            r = rng(m.group(0))
            ipmap[m.group(0)] = "%s.%d" % (r.choice(["192.0.2", "198.51.100", "203.0.113"]),
                                           r.randint(1, 254))
    subs = []
    if amap:
        alt = "|".join(re.escape(a) for a in sorted(amap, key=len, reverse=True))
        subs.append((re.compile(r"(?<![A-Za-z0-9._%+=-])(" + alt + r")(?![A-Za-z0-9-]|\.[A-Za-z0-9])",
                                re.I | re.A), lambda m: amap[m.group(1).lower()]))
        alt = "|".join(re.escape(a) for a in sorted(verp, key=len, reverse=True))
        subs.append((re.compile(r"(?<![A-Za-z0-9._%-])(" + alt + r")(?=@)", re.I | re.A),
                     lambda m: verp[m.group(1).lower()]))
    bare = [l for l in lmap if len(l) >= 5 and l not in KEEP_LOCAL and l not in REASONS
            and re.fullmatch(r"[a-z0-9._-]*[a-z][a-z0-9._-]*", l)]
    if bare:
        alt = "|".join(re.escape(l) for l in sorted(bare, key=len, reverse=True))
        subs.append((re.compile(r"(?<![A-Za-z0-9._%+#/=-])(" + alt + r")(?![A-Za-z0-9_+=@-]|\.[A-Za-z0-9])",
                                re.A), lambda m: lmap[m.group(1)]))
    if bases:
        alt = "|".join(re.escape(b) for b in bases)
        subs.append((re.compile(r"(?<![A-Za-z0-9-])(" + alt + r")(?![A-Za-z0-9-]|\.[A-Za-z0-9])",
                                re.I | re.A), lambda m: dmap[m.group(1).lower()]))
    if ipmap:
        subs.append((DOC_IP, lambda m: ipmap[m.group(0)]))

    def fn(s):
        for rx, repl in subs:
            s = rx.sub(repl, s)
        return s
    return fn


def t_addresses(msg, ctx):
    """Recipient addresses, host names and IP addresses changed (every
    occurrence, also in encoded parts and RFC 2047 words). Provider domains
    stay; the expected recipient is the renamed one."""
    rewrite = address_fn(msg, ctx)
    seen = set()

    def fn(s):
        # every address of every region, decoded: the expected recipient of
        # any reader is the rewrite of the address it read
        seen.update(a.lower() for a in ADDR_RE.findall(s))
        return rewrite(s)
    root = Part(msg)
    map_text(root, fn, ctx.eol)
    out = root.serialize()
    if out == msg:
        return None
    rmap = ctx.meta.setdefault("rcpt_map", {})
    for a in sorted(seen | set(a.lower() for a in ADDR_RE.findall(L(msg)))):
        if rewrite(a).lower() != a:
            rmap[a] = rewrite(a).lower()
    for r in ctx.rcpts:
        if r.get("rcpt"):
            new = rewrite(r["rcpt"])
            if new != r["rcpt"]:
                rmap[r["rcpt"].lower()] = new.lower()
    return out


MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_M = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_D = "(Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
RFC_DATE = re.compile(r"\b(?:" + _D + r"(,?[ \t]+))?(\d{1,2})([ \t]+)" + _M + r"([ \t]+)(\d{4}|\d{2})([ \t]+)"
                      r"(\d{1,2}):(\d{2})(?::(\d{2}))?(?![\d:])", re.I | re.A)
CTIME = re.compile(r"\b" + _D + r"( +)" + _M + r"( +)(\d{1,2})( +)(\d{2}):(\d{2}):(\d{2})( +[A-Z]{1,5})?( +)(\d{4})\b",
                   re.A)
US_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2}) (\d{1,2}):(\d{2}):(\d{2}) ?(AM|PM)\b", re.A)
ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?=[.Z+-])", re.A)


def like(word, model):
    if model.isupper():
        return word.upper()
    if model.islower():
        return word.lower()
    return word


def width_of(s, n):
    """N written like S: with a leading zero when S has one."""
    return ("%02d" if s.startswith("0") else "%d") % n


def date_fn(delta):
    """Moves every date by DELTA (RFC 5322, ctime with or without a zone,
    ISO 8601, US 'M/D/YY H:MM:SS PM'), keeping each one's zone and layout
    and recomputing the weekday."""
    def rfc(m):
        wd, sep1, d, s1, mon, s2, y, s3, hh, mi, ss = m.groups()
        year = int(y) if len(y) == 4 else (2000 + int(y) if int(y) < 50 else 1900 + int(y))
        try:
            t = datetime.datetime(year, MONTHS.index(mon.title()) + 1, int(d), int(hh), int(mi),
                                  int(ss or 0)) + delta
        except ValueError:
            return m.group(0)
        out = ""
        if wd:
            out += like(DAYS[t.weekday()], wd) + sep1
        out += width_of(d, t.day) + s1 + like(MONTHS[t.month - 1], mon) + s2
        out += ("%04d" % t.year if len(y) == 4 else "%02d" % (t.year % 100)) + s3
        out += ("%02d" % t.hour if len(hh) == 2 else "%d" % t.hour) + ":%02d" % t.minute
        if ss is not None:
            out += ":%02d" % t.second
        return out

    def ctime(m):
        wd, s0, mon, s1, d, s2, hh, mi, ss, zone, s3, y = m.groups()
        try:
            t = datetime.datetime(int(y), MONTHS.index(mon) + 1, int(d), int(hh), int(mi), int(ss)) + delta
        except ValueError:
            return m.group(0)
        day = "%d" % t.day
        if len(s1) == 2 and t.day >= 10:
            s1 = " "
        elif len(s1) == 1 and t.day < 10 and len(d) == 2:
            s1 = "  "
        return "%s%s%s%s%s%s%02d:%02d:%02d%s%s%d" % (DAYS[t.weekday()], s0, MONTHS[t.month - 1], s1, day, s2,
                                                    t.hour, t.minute, t.second, zone or "", s3, t.year)

    def us(m):
        mo, d, y, hh, mi, ss, ampm = m.groups()
        year = int(y) if len(y) == 4 else 2000 + int(y)
        h24 = int(hh) % 12 + (12 if ampm == "PM" else 0)
        try:
            t = datetime.datetime(year, int(mo), int(d), h24, int(mi), int(ss)) + delta
        except ValueError:
            return m.group(0)
        h12 = t.hour % 12 or 12
        return "%s/%s/%s %s:%02d:%02d %s" % (width_of(mo, t.month), width_of(d, t.day),
                                              "%04d" % t.year if len(y) == 4 else "%02d" % (t.year % 100),
                                              width_of(hh, h12), t.minute, t.second,
                                              "PM" if t.hour >= 12 else "AM")

    def iso(m):
        try:
            t = datetime.datetime(*map(int, m.groups())) + delta
        except ValueError:
            return m.group(0)
        return t.strftime("%Y-%m-%dT%H:%M:%S")

    def fn(s):
        return US_DATE.sub(us, ISO.sub(iso, CTIME.sub(ctime, RFC_DATE.sub(rfc, s))))
    return fn


def t_dates(msg, ctx):
    """Every date moved by the same amount (40 to 800 days and some hours):
    Date, Received, Arrival-Date, Last-Attempt-Date, dates in the text, JSON
    timestamps. `at` must move by exactly that amount."""
    r = rng_for("dates", ctx.file)
    secs = r.randint(40, 800) * 86400 + r.randint(0, 86399)
    ctx.meta["at_shift"] = secs
    root = Part(msg)
    map_text(root, date_fn(datetime.timedelta(seconds=secs)), ctx.eol)
    out = root.serialize()
    return None if out == msg else out


# --------------------------------------------------------------------------
# SMTP transcripts

def first_address(value, default):
    return address_of(value) or default


def t_transcript(msg, ctx):
    """An SMTP transcript (sendmail's '>>> ' / '<<< ' lines) with the earlier
    dialogue inserted in front of its first command: a greeting with a 220-
    continuation (in half of the files), EHLO answered 250- ... 250, and,
    where the first command shown is RCPT, MAIL FROM answered 250 and
    another recipient's RCPT TO answered 250 (accepted: no result of its
    own). Before a DATA that is shown first, the RCPT replies may be
    pipelined ones still to come, so only the greeting and EHLO go in
    there."""
    root = Part(msg)
    sender = first_address(root.get("to"), "sender@example.org")
    m = re.search(rb"(?im)^reporting-mta:[^;\n]*;[ \t]*([^\s;]+)", msg)
    client = L(m.group(1)) if m else "mta.sender.example.org"
    greet = ctx.rng.random() < 0.5
    changed = False
    for leaf, trailing in leaves(root):
        if not leaf.ctype.startswith("text/plain"):
            continue
        content = leaf.decoded(trailing)
        if content is None or b">>> " not in content:
            continue
        lines = split_lines(content)
        out, prev = [], b""
        for i, line in enumerate(lines):
            if line.startswith(b">>> ") and not prev.startswith((b">>> ", b"<<< ")):
                verb = L(line[4:].split(None, 1)[0] if line[4:].split() else b"").upper()
                server = "mx.remote.example.net"
                for back in lines[max(0, i - 3):i]:
                    mm = re.search(rb"(?i)while talking to ([A-Za-z0-9.-]+?)\.?:", back) or \
                        re.match(rb"[ \t]*([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+) \[[0-9.]+\]:", back)
                    if mm:
                        server = L(mm.group(1))
                e = line_end(line) or ctx.eol
                ins = []
                if verb in ("MAIL", "RCPT", "DATA"):
                    if greet:
                        ins += ["<<< 220-%s ESMTP Service ready" % server,
                                "<<< 220 %s No UCE" % server]
                    ins += [">>> EHLO %s" % client,
                            "<<< 250-%s Hello %s [192.0.2.10], pleased to meet you" % (server, client),
                            "<<< 250-ENHANCEDSTATUSCODES", "<<< 250-PIPELINING", "<<< 250-8BITMIME",
                            "<<< 250 SIZE 52428800"]
                if verb == "RCPT":
                    ins += [">>> MAIL From:<%s> SIZE=%d" % (sender, ctx.rng.randint(1000, 90000)),
                            "<<< 250 2.1.0 <%s>... Sender ok" % sender]
                    rcpt = address_of(L(line))
                    if rcpt:
                        other = new_address(ctx, rcpt.split("@")[1], L(msg).lower())
                        ins += [">>> RCPT To:<%s>" % other, "<<< 250 2.1.5 <%s>... Recipient ok" % other]
                if ins:
                    out += [B(x) + e for x in ins]
                    changed = True
            out.append(line)
            prev = line
        new = b"".join(out)
        if new != content:
            leaf.set_decoded(new, trailing, ctx.eol)
    return root.serialize() if changed else None


# --------------------------------------------------------------------------
# Charsets

CHARSETS = {"utf8": ("utf-8", "UTF-8"), "iso2022jp": ("iso2022_jp", "ISO-2022-JP"),
            "sjis": ("shift_jis", "Shift_JIS"), "latin1": ("latin-1", "ISO-8859-1")}
ALIASES = {"unicode-1-1-utf-7": "utf-7", "x-sjis": "shift_jis", "x-unknown": None}


def codec_of(name):
    if not name:
        return None
    name = name.strip().strip('"').lower()
    if name in ALIASES:
        name = ALIASES[name]
        if name is None:
            return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def sniff(content):
    if re.search(rb"\x1b\$[@B]", content):
        return "iso2022_jp"
    try:
        content.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return None


def encode_words(text, cname, mime, eol):
    """TEXT as RFC 2047 B words of at most 75 characters, each a whole
    sequence in the target charset (ISO-2022-JP words end in ASCII)."""
    words, cur = [], ""
    for ch in text:
        trial = cur + ch
        if len(ew_encode(trial.encode(cname), mime, "B")) > 75 and cur:
            words.append(ew_encode(cur.encode(cname), mime, "B"))
            cur = ch
        else:
            cur = trial
    if cur:
        words.append(ew_encode(cur.encode(cname), mime, "B"))
    return (L(eol) + " ").join(words)


EW_RUN = re.compile(r"(?:=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)(?:[ \t]*(?:\r?\n)?[ \t]+=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)*")


def translate_field(raw, cname, mime, eol):
    """Encoded words of a field re-encoded in the target charset; runs of
    words in one charset are decoded together (a character may be split
    across two words)."""
    s = L(raw)

    def run(m):
        words = EW.findall(m.group(0))
        cs = {codec_of(w[0]) for w in words}
        if len(cs) != 1 or None in cs:
            return m.group(0)
        data = b""
        for w in words:
            d = ew_decode(w[1], w[2])
            if d is None:
                return m.group(0)
            data += d
        try:
            text = data.decode(cs.pop())
        except (UnicodeDecodeError, LookupError):
            return m.group(0)
        if text.isascii() or codec_of(words[0][0]) == codecs.lookup(cname).name:
            return m.group(0)
        try:
            text.encode(cname)
        except UnicodeEncodeError:
            return m.group(0)
        return encode_words(text, cname, mime, eol)
    return B(EW_RUN.sub(run, s))


def set_charset(leaf, mime, eol):
    f = leaf.field("content-type")
    if f is None:
        leaf.set_field("Content-Type", "text/plain; charset=\"%s\"" % mime, eol)
        return
    raw = L(f.raw)
    new, n = re.subn(r'(?i)(charset[ \t]*=[ \t]*)("[^"]*"|[^\s;]+)', lambda m: m.group(1) + '"%s"' % mime,
                     raw, count=1)
    if not n:
        body = strip_eol(f.raw)
        new = L(body) + '; charset="%s"' % mime + L(line_end(f.raw) or eol)
    f.__init__(B(new))


def t_charset(target):
    cname, mime = CHARSETS[target]

    def t(msg, ctx):
        root = Part(msg)
        changed = False
        for leaf, trailing in leaves(root):
            if leaf.ctype not in ("text/plain", "text/html"):
                continue
            content = leaf.decoded(trailing)
            if content is None:
                continue
            declared = leaf.params.get("charset")
            src = codec_of(declared) if declared else sniff(content)
            if not src or src == codecs.lookup(cname).name:
                continue
            try:
                text = content.decode(src)
            except UnicodeDecodeError:
                continue
            if text.isascii():
                continue
            if leaf.ctype == "text/html":
                text = re.sub(r"(?i)(<meta[^>]*charset=[\"']?)([A-Za-z0-9_-]+)", lambda m: m.group(1) + mime, text)
            try:
                new = text.encode(cname)
            except UnicodeEncodeError:
                continue
            cte = leaf.cte if leaf.cte in ("base64", "quoted-printable") else \
                ("7bit" if cname == "iso2022_jp" else "8bit")
            leaf.set_decoded(new, trailing, ctx.eol, cte)
            if leaf.depth == 0 and root.get("mime-version") is None:
                root.set_field("MIME-Version", "1.0", ctx.eol)
            set_charset(leaf, mime, ctx.eol)
            if cte != (leaf.get("content-transfer-encoding") or "7bit").strip().lower():
                set_cte(leaf, cte, ctx.eol)
            changed = True
        for f in root.fields:
            if f.name and EW.search(L(f.raw)):
                new = translate_field(f.raw, cname, mime, ctx.eol)
                if new != f.raw:
                    f.__init__(new)
                    changed = True
        return root.serialize() if changed else None
    t.__doc__ = ("Text with characters beyond ASCII translated to %s, declared in the MIME "
                 "charset (and RFC 2047 words), where %s can represent all of it." % (mime, mime))
    return t


# --------------------------------------------------------------------------
# Recipients: reordered, one added

def starts_block(line, rcpts):
    s = L(strip_eol(line)).strip().lstrip("<").lower()
    for a in rcpts:
        if s.startswith(a) and (len(s) == len(a) or s[len(a)] in ">:;, \t"):
            return a
    return None


def indent(line):
    return len(line) - len(line.lstrip(b" \t"))


def names_other(lines, a, rcpts):
    text = L(b"".join(lines)).lower()
    return any(o != a and re.search(r"(?<![a-z0-9._%+=-])" + re.escape(o) + r"(?![a-z0-9-])", text)
               for o in rcpts)


def block_runs(lines, rcpts):
    """Recipient blocks of a plain-text bounce: a line that starts with a
    recipient's address (qmail '<a>:', Postfix '<a>: host ...', Exim '  a',
    sendmail's list), then its lines up to a blank line or the next such
    line. Returns runs of adjacent blocks, each block (address, start,
    content end, end of the blank lines that separate it from the next),
    keeping only runs where no block names another recipient."""
    runs, run, i, n = [], [], 0, len(lines)
    while i < n:
        a = starts_block(lines[i], rcpts)
        if not a:
            if run:
                runs.append(run)
                run = []
            i += 1
            continue
        level = indent(lines[i])

        def next_start(line):
            # an address indented deeper than the block's first line is one
            # of its lines (Postfix: '    <a>... User Unknown')
            return starts_block(line, rcpts) is not None and indent(line) <= level
        j = i + 1
        while j < n and strip_eol(lines[j]).strip() and not next_start(lines[j]):
            j += 1
        k = j
        while k < n and not strip_eol(lines[k]).strip():
            k += 1
        more = k < n and next_start(lines[k])
        run.append((a, i, j, k if more else j))
        i = k if more else j
        if not more:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    return [r for r in runs if not any(names_other(lines[s:c], a, rcpts) for a, s, c, _ in r)]


def with_eol(lines, eol):
    lines = list(lines)
    if lines and not lines[-1].endswith(b"\n"):
        lines[-1] += eol
    return lines


def reorder_text(content, rcpts, eol):
    lines = split_lines(content)
    out = list(lines)
    for run in reversed(block_runs(lines, rcpts)):
        if len(run) < 2 or len({a for a, _, _, _ in run}) != len(run):
            continue
        start, end = run[0][1], run[-1][3]
        bodies = [lines[s:c] for _, s, c, _ in run]
        seps = [lines[c:e] for _, _, c, e in run]
        new = []
        for body, sep in zip(reversed(bodies), seps):
            new += with_eol(body, eol) + sep
        if not lines[end - 1].endswith(b"\n") and new[-1].endswith(eol):
            new[-1] = new[-1][:-len(eol)]
        out[start:end] = new
    return b"".join(out)


def dsn_groups(body):
    """A delivery-status body as segments [(is_group, lines)]."""
    segs = []
    for line in split_lines(body):
        blank = not strip_eol(line).strip()
        if segs and segs[-1][0] == (not blank):
            segs[-1][1].append(line)
        else:
            segs.append((not blank, [line]))
    return segs


def is_rcpt_group(lines):
    return any(re.match(rb"(?i)(final|original)-recipient[ \t]*:", l) for l in lines)


def dsn_leaves(root):
    return [(l, t) for l, t in leaves(root) if l.ctype in MACHINE_TYPES[:2]
            and l.cte in ("7bit", "8bit", "binary")]


def t_reorder(msg, ctx):
    """Recipients in the opposite order: the per-recipient groups of a
    delivery-status part, and the recipient blocks of the text (RFC 3464
    gives the order no meaning)."""
    root = Part(msg)
    rcpts = [a for a in (address_of(r.get("rcpt")) for r in ctx.rcpts) if a]
    changed = False
    for leaf, trailing in dsn_leaves(root):
        segs = dsn_groups(leaf.body)
        slots = [i for i, (g, lines) in enumerate(segs) if g and is_rcpt_group(lines)]
        # a first group that holds the per-message fields too stays first
        if slots and slots[0] == next(i for i, (g, _) in enumerate(segs) if g):
            slots = slots[1:]
        if len(slots) < 2:
            continue
        groups = [list(segs[i][1]) for i in slots]
        for g in groups:
            if not g[-1].endswith(b"\n"):
                g[-1] += ctx.eol
        for i, g in zip(slots, reversed(groups)):
            segs[i] = (True, g)
        leaf.body = b"".join(b"".join(lines) for _, lines in segs)
        changed = True
    if len(set(rcpts)) >= 2:
        for leaf, trailing in leaves(root):
            if leaf.ctype != "text/plain":
                continue
            content = leaf.decoded(trailing)
            if content is None:
                continue
            new = reorder_text(content, rcpts, ctx.eol)
            if new != content:
                leaf.set_decoded(new, trailing, ctx.eol)
                changed = True
    return root.serialize() if changed else None


def new_address(ctx, domain, text):
    for _ in range(50):
        a = "%s.%s@%s" % (tuple(ctx.rng.sample(NAMES, 2)) + (domain,))
        if a not in text:
            return a
    raise RuntimeError("no new address")


ADDED = {"action": "failed", "delayed": False, "status": "5.2.2", "code": 552,
         "reason": "mailboxfull", "type": "soft"}


def add_failed_header(root, new, eol):
    f = root.field("x-failed-recipients")
    if f:
        f.__init__(strip_eol(f.raw) + B(", " + new) + (line_end(f.raw) or eol))


def says_more(lines, a):
    """Whether a recipient block has words of its own besides the address (a
    bare address in a list is not a result that a copy could repeat)."""
    text = L(b"".join(lines)).lower().replace(a, " ")
    return len(re.findall(r"[a-z]{2,}", text)) >= 2


def t_added(msg, ctx):
    """A second recipient added with a result of its own. In a
    delivery-status part whose recipients all failed: a recipient group of
    its own, 'Action: failed', 'Status: 5.2.2', 'Diagnostic-Code: smtp; 552
    5.2.2 <new>... Mailbox full' (expected: mailboxfull, soft), first or
    last. In a bounce without a delivery-status part: a copy of a
    recipient's block (one that says more than the address) under a new
    address, expected to give that recipient's result under the new
    address."""
    root = Part(msg)
    text = L(msg).lower()
    reports = [(l, t) for l, t in leaves(root) if l.ctype in MACHINE_TYPES[:2]]
    for leaf, trailing in reports[:1]:
        body = leaf.decoded(trailing)
        segs = dsn_groups(body or b"")
        slots = [i for i, (g, lines) in enumerate(segs) if g and is_rcpt_group(lines)]
        if not slots:
            return None
        fields = [f for i in slots for f in parse_fields(b"".join(segs[i][1]))]
        actions = {f.value().lower() for f in fields if f.name == "action"}
        if actions != {"failed"}:
            return None
        first = parse_fields(b"".join(segs[slots[0]][1]))
        rcpt = next((f.value() for f in first if f.name in ("final-recipient", "original-recipient")), "")
        a = address_of(rcpt)
        new = new_address(ctx, a.split("@")[1] if a else "example.net", text)
        e = line_end(segs[slots[0]][1][0]) or ctx.eol
        group = [b"Final-Recipient: rfc822; " + B(new) + e, b"Action: failed" + e, b"Status: 5.2.2" + e]
        group += [f.raw for f in first if f.name == "remote-mta"]
        group += [B("Diagnostic-Code: smtp; 552 5.2.2 <%s>... Mailbox full" % new) + e]
        group += [f.raw for f in first if f.name == "last-attempt-date"]
        group = [g if g.endswith(b"\n") else g + e for g in group]
        first_group = next(i for i, (g, _) in enumerate(segs) if g)
        # first only when the per-message fields have a group of their own
        if slots[0] != first_group and ctx.rng.random() < 0.5:
            segs.insert(slots[0], (False, [e]))
            segs.insert(slots[0], (True, group))
        else:
            last = list(segs[slots[-1]][1])
            if not last[-1].endswith(b"\n"):
                last[-1] += e
            segs[slots[-1]] = (True, last)
            segs.insert(slots[-1] + 1, (True, group))
            segs.insert(slots[-1] + 1, (False, [e]))
        leaf.set_decoded(b"".join(b"".join(lines) for _, lines in segs), trailing, ctx.eol)
        add_failed_header(root, new, ctx.eol)
        ctx.meta["added"] = [dict(ADDED, rcpt=new)]
        return root.serialize()
    if reports or re.search(rb"(?im)^(final|original)-recipient[ \t]*:", msg):
        return None   # delivery-status fields pasted into the text: not mirrored here
    rcpts = {address_of(r.get("rcpt")): r for r in ctx.rcpts
             if address_of(r.get("rcpt")) and (r.get("action") or "").lower() in ("failed", "delayed")}
    if not rcpts:
        return None
    for leaf, trailing in leaves(root):
        if leaf.ctype != "text/plain":
            continue
        content = leaf.decoded(trailing)
        if content is None:
            continue
        lines = split_lines(content)
        runs = [r for r in block_runs(lines, list(rcpts)) if says_more(lines[r[0][1]:r[0][2]], r[0][0])]
        if not runs:
            continue
        run = runs[0]
        a, s, c, e = run[0]
        new = new_address(ctx, a.split("@")[1], text)
        rx = re.compile(r"(?<![A-Za-z0-9._%+=-])" + re.escape(a) + r"(?![A-Za-z0-9-])", re.I)
        copy = [B(rx.sub(new, L(l))) for l in lines[s:c]]
        eol = line_end(lines[s]) or ctx.eol
        if len(run) > 1:
            between = lines[c:e]
        else:
            between = [] if lines[s][:1] in (b" ", b"\t") else [eol]
        rest = lines[c:]
        if rest:
            copy = with_eol(copy, eol)
        new_content = b"".join(lines[:s] + with_eol(lines[s:c], eol) + between + copy + rest)
        leaf.set_decoded(new_content, trailing, ctx.eol)
        add_failed_header(root, new, ctx.eol)
        ctx.meta["added_copy"] = [{"from": rcpts[a]["rcpt"], "rcpt": new}]
        return root.serialize()
    return None


# --------------------------------------------------------------------------
# The bounce in an mbox among other mail

ORDINARY = [
    """From: Ines Marquez <ines.marquez@lists.example.net>
To: team@lists.example.net
Subject: Re: lunch on Friday
Date: {date}
Message-ID: <{id}.lunch@lists.example.net>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

From what I remember the place on the corner closes at three, so let us
meet at noon. I will book a table for six.

From the kitchen's menu: soup, two mains, one dessert.
Ines
""",
    """From: Northwind Weekly <news@northwind.example.org>
To: subscriber@mail.example.net
Subject: This week: five new recipes
Date: {date}
Message-ID: <{id}.weekly@northwind.example.org>
List-Unsubscribe: <mailto:unsubscribe@northwind.example.org>
Precedence: bulk
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="nw-{id}"

--nw-{id}
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Five new recipes this week, and a caf\u00e9 guide.

--nw-{id}
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: 8bit

<html><body><p>Five new recipes this week, and a caf\u00e9 guide.</p></body></html>

--nw-{id}--
""",
    """From: Paulo Reis <paulo.reis@mail.example.net>
To: Ines Marquez <ines.marquez@lists.example.net>
Subject: slides for Tuesday
Date: {date}
Message-ID: <{id}.slides@mail.example.net>
In-Reply-To: <{id}.lunch@lists.example.net>

Hi Ines,

here are my notes for the slides; the numbers are from last quarter.
> From your last mail: can we keep it to ten minutes?
Yes, ten minutes.

Paulo
""",
]


def t_mbox(data, ctx):
    """The bounce in an mbox (mboxrd: 'From ' lines in bodies escaped) with
    three ordinary messages around it, read through bounce.messages. The
    ordinary ones must give no result."""
    eol = ctx.eol
    msgs = mbox_split(data)
    pos = ctx.rng.randint(0, 3)
    others = []
    for i, tpl in enumerate(ORDINARY):
        t = datetime.datetime(2022, 3, ctx.rng.randint(1, 28), 9, i * 7)
        text = tpl.format(date=t.strftime("%a, %d %b %Y %H:%M:00 +0100"), id="%08x" % ctx.rng.getrandbits(32))
        env = B("From %s %s" % (address_of(text), t.strftime("%a %b %e %H:%M:00 %Y"))) + eol
        others.append((env, text.encode("utf-8").replace(b"\n", eol)))
    own = [(env or b"From MAILER-DAEMON Mon Jan  2 10:00:00 2023" + eol, m) for env, m in msgs]
    out = others[:pos] + own + others[pos:]
    # a message ends with a blank line before the next envelope line
    fixed = []
    for env, m in out:
        if not m.endswith(b"\n"):
            m += eol
        if not m.endswith(eol + eol) and not m.endswith(b"\n\n"):
            m += eol
        fixed.append((env, m))
    return b"".join(env + mbox_escape(m) for env, m in fixed)


# --------------------------------------------------------------------------
# The driver

TRANSFORMS = [
    ("crlf", t_crlf), ("refold", t_refold), ("qp", t_qp), ("base64", t_base64), ("8bit", t_8bit),
    ("boundaries", t_boundaries), ("dsn-moved", t_dsn_moved), ("nested", t_nested),
    ("forwarded", t_forwarded), ("mbox", t_mbox), ("transcript", t_transcript),
    ("addresses", t_addresses), ("dates", t_dates),
    ("charset-utf8", t_charset("utf8")), ("charset-iso2022jp", t_charset("iso2022jp")),
    ("charset-sjis", t_charset("sjis")), ("charset-latin1", t_charset("latin1")),
    ("reorder", t_reorder), ("added-rcpt", t_added),
]
WHOLE_FILE = {"mbox"}
SAME_SKELETON = {"crlf", "refold", "qp", "base64", "8bit", "boundaries", "addresses", "dates",
                 "transcript", "charset-utf8", "charset-iso2022jp", "charset-sjis", "charset-latin1",
                 "reorder", "added-rcpt"}


class SuiteError(Exception):
    pass


def texts(root):
    """The bounce's text leaves, decoded, line endings LF: what a
    byte-level transformation must leave as it was."""
    out = []
    for leaf, trailing in leaves(root):
        c = leaf.decoded(trailing)
        if c is not None and textual(leaf.ctype):
            out.append(re.sub(rb"\r*\n", b"\n", c).rstrip(b"\n"))
    return out


def check(name, before, after):
    """Checks that a transformation did what it says (the suite's own
    test): the result parses into the same MIME skeleton, and byte-level
    transformations kept the decoded text."""
    a, b = Part(before), Part(after)
    if name in SAME_SKELETON and a.skeleton() != b.skeleton():
        raise SuiteError("%s changed the MIME structure: %r -> %r" % (name, a.skeleton(), b.skeleton()))
    if name in ("qp", "base64", "8bit", "crlf", "boundaries"):
        if texts(a) != texts(b):
            raise SuiteError("%s changed a decoded text part" % name)
    if name == "refold":
        unf = [re.sub(rb"\n(?=[ \t])", b"", t) for t in texts(a)]
        unf2 = [re.sub(rb"\n(?=[ \t])", b"", t) for t in texts(b)]
        if unf != unf2:
            raise SuiteError("refold changed a text part beyond folding")
        for p, q in zip(a.walk(), b.walk()):
            if [f.value() for f in p.fields] != [f.value() for f in q.fields]:
                raise SuiteError("refold changed a field value")
    if name == "dsn-moved":
        def canon(p):
            if p.kind == "multi":
                return (p.ctype, tuple(sorted(repr(canon(c)) for c in p.parts)))
            return repr(p.skeleton())
        if canon(a) != canon(b) or a.skeleton() == b.skeleton():
            raise SuiteError("dsn-moved did not just move a part")
    if name in ("nested", "forwarded"):
        inner = [p for p in b.walk(False) if p.kind == "message"]
        if not inner or inner[0].inner.serialize() != before:
            raise SuiteError("%s does not hold the bounce unchanged" % name)


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: robustness.py CORPUS_DIR OUT_DIR ORIGINALS_JSONL\n")
        return 2
    corpus, outdir, originals = argv[1:]
    recs = {}
    with open(originals) as f:
        for line in f:
            o = json.loads(line)
            recs[o["file"]] = o["messages"]
    files = []
    with open(os.path.join(corpus, "labels.jsonl")) as f:
        for line in f:
            if line.strip():
                files.append(json.loads(line)["file"])
    only = os.environ.get("ROBUSTNESS_ONLY")
    # a kept folder from an earlier run: its copies of corpus files go first
    names = {os.path.basename(f) for f in files}
    for name, _ in TRANSFORMS:
        folder = os.path.join(outdir, name)
        if os.path.isdir(folder):
            for old in os.listdir(folder):
                if old in names:
                    os.remove(os.path.join(folder, old))
    manifest = []
    for file in files:
        data = open(os.path.join(corpus, file), "rb").read()
        eol = eol_of(data)
        msgs = mbox_split(data)
        if mbox_split(mbox_join(msgs, eol)) != msgs:
            raise SuiteError("%s: the mbox reading does not give back the file" % file)
        for _, m in msgs:
            if Part(m).serialize() != m:
                raise SuiteError("%s: the MIME tree does not give back the message" % file)
        base = os.path.basename(file)
        for name, fn in TRANSFORMS:
            if only and name not in only.split(","):
                continue
            meta = {}
            try:
                if name in WHOLE_FILE:
                    ctx = Ctx(name, file, [r for m in recs.get(file, []) for r in m])
                    ctx.eol = eol
                    out = fn(data, ctx)
                    meta = ctx.meta
                else:
                    new_msgs, applied = [], False
                    for idx, (env, m) in enumerate(msgs):
                        mrecs = recs.get(file) or []
                        ctx = Ctx(name if idx == 0 else "%s#%d" % (name, idx), file,
                                  mrecs[idx] if idx < len(mrecs) else [])
                        ctx.eol = eol_of(m) if m else eol
                        new = None
                        # one recipient added per file, in its first message that can take one
                        if not (name == "added-rcpt" and ("added" in meta or "added_copy" in meta)):
                            new = fn(m, ctx)
                        if new is not None:
                            check(name, m, new)
                            applied = True
                            for k, v in ctx.meta.items():
                                if isinstance(v, dict):
                                    meta.setdefault(k, {}).update(v)
                                elif isinstance(v, list):
                                    meta.setdefault(k, []).extend(v)
                                else:
                                    meta[k] = v
                        new_msgs.append((env, new if new is not None else m))
                    out = mbox_join(new_msgs, eol) if applied else None
            except SuiteError as e:
                raise SuiteError("%s: %s" % (file, e))
            except Exception as e:
                raise SuiteError("%s: %s raised %s: %s" % (file, name, type(e).__name__, e))
            if out is None or out == data:
                continue
            rel = os.path.join(name, base)
            os.makedirs(os.path.join(outdir, name), exist_ok=True)
            with open(os.path.join(outdir, rel), "wb") as f:
                f.write(out)
            entry = {"t": name, "file": file, "out": rel}
            for k in ("rcpt_map", "at_shift", "added", "added_copy"):
                if k in meta:
                    entry[k] = meta[k]
            manifest.append(entry)
    with open(os.path.join(outdir, "manifest.jsonl"), "w") as f:
        for e in manifest:
            f.write(json.dumps(e, sort_keys=True) + "\n")
    with open(os.path.join(outdir, "transforms.jsonl"), "w") as f:
        for name, fn in TRANSFORMS:
            doc = " ".join((fn.__doc__ or "").split())
            f.write(json.dumps({"t": name, "doc": doc}) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except SuiteError as e:
        sys.stderr.write("robustness.py: %s\n" % e)
        sys.exit(1)
