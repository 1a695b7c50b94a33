"""A DNS server that answers badly on purpose, for spec/integration/verify_spec.lua.

    python3 spec/support/dns_hostile.py --port PORT --ready READY [--lifetime SECONDS]

Listens on 127.0.0.1:PORT, UDP and TCP. What it sends depends on the first
label of the name asked (the rest of the name does not matter):

    loop      an MX answer whose record owner is a compression pointer to itself
    twoloop   two names pointing at each other
    forward   a compression pointer forward, past the end of the message
    cut       an answer cut inside its only record (TC clear)
    counts    a header that promises 5 answers and carries 1
    badlabel  a label of the reserved type 01
    rdata     an MX whose exchange runs past its RDLENGTH
    wrongid   the right answer under another id (only that)
    forged    first an NXDOMAIN under another id, then the real answer:
              MX 10 mx.<name>, A 127.0.0.1 in the additional section
    question  an answer to another question
    hugetxt   TC over UDP; over TCP 65,000 bytes of TXT records whose last
              string runs past its record
    bigtxt    TC over UDP; over TCP 60,000 bytes of well formed TXT records,
              then the real MX answer records
    garbage   random bytes
    silent    nothing at all (the client must time out); also for any name
              with a "silent" label (dnsmasq forwards silent.test here)
    servfail  SERVFAIL
    mx        (and anything else) a normal answer: MX 10 mx.<name> for MX,
              A 127.0.0.1 for A, nothing (NODATA) for the rest
    slow      (any name with a "slow" label) the normal answer 20 ms late,
              as a resolver across a network answers; queries overlap

READY is written once both sockets listen. SIGTERM stops it; it also stops
by itself after --lifetime seconds (default 300).
"""

import argparse
import os
import signal
import socket
import struct
import threading

MX, A, TXT = 15, 1, 16


def name_bytes(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii", "replace")
    return out + b"\0"


def parse_query(data):
    """(id, qname as text, qtype, the question's bytes) of a query."""
    qid = struct.unpack(">H", data[:2])[0]
    i, labels = 12, []
    while data[i] != 0:
        n = data[i]
        labels.append(data[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    qtype = struct.unpack(">H", data[i + 1:i + 3])[0]
    return qid, ".".join(labels), qtype, data[12:i + 5]


def header(qid, flags, qd, an, ns, ar):
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar)


def rr(owner, rtype, ttl, rdata):
    return owner + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def normal(qid, qname, qtype, question, flags=0x8580):
    if qtype == MX:
        mx = name_bytes("mx." + qname)
        return (header(qid, flags, 1, 1, 0, 1) + question
                + rr(b"\xc0\x0c", MX, 60, b"\x00\x0a" + mx)
                + rr(mx, A, 60, bytes([127, 0, 0, 1])))
    if qtype == A:
        return header(qid, flags, 1, 1, 0, 0) + question + rr(b"\xc0\x0c", A, 60, bytes([127, 0, 0, 1]))
    return header(qid, flags, 1, 0, 0, 0) + question


def txt_records(total, broken):
    out, n, size = b"", 0, 0
    while size < total:
        rdata = b"\xff" + b"t" * 255
        if broken and size + 300 >= total:
            rdata = b"\xff" + b"t" * 100          # the string says 255, the record holds 101
        out += rr(b"\xc0\x0c", TXT, 60, rdata)
        n += 1
        size += 12 + len(rdata)
    return out, n


def answers(data, tcp):
    """The datagrams (or TCP messages) to send back, in order."""
    qid, qname, qtype, question = parse_query(data)
    labels = qname.lower().split(".")
    kind = labels[0]
    hdr1 = lambda an, ns=0, ar=0, flags=0x8580: header(qid, flags, 1, an, ns, ar) + question
    if "silent" in labels:
        return []
    if kind == "loop":
        return [hdr1(1) + rr(b"\xc0" + bytes([12 + len(question)]), MX, 60, b"\x00\x0a\xc0\x0c")]
    if kind == "twoloop":
        at = 12 + len(question)
        return [hdr1(1) + b"\x01x\xc0" + bytes([at + 4]) + b"\xc0" + bytes([at])
                + struct.pack(">HHIH", MX, 1, 60, 4) + b"\x00\x0a\xc0\x0c"]
    if kind == "forward":
        return [hdr1(1) + rr(b"\xc0\x0c", MX, 60, b"\x00\x0a\xc0\xff")]
    if kind == "cut":
        full = normal(qid, qname, MX, question)
        return [full[:len(full) - 20]]
    if kind == "counts":
        full = normal(qid, qname, qtype, question)
        return [full[:6] + b"\x00\x05" + full[8:]]
    if kind == "badlabel":
        return [hdr1(1) + rr(b"\x41\x00", MX, 60, b"\x00\x0a\xc0\x0c")]
    if kind == "rdata":
        return [hdr1(1) + b"\xc0\x0c" + struct.pack(">HHIH", MX, 1, 60, 3) + b"\x00\x0a" + name_bytes("mx.x.test")]
    if kind == "wrongid":
        return [normal((qid + 1) % 65536, qname, qtype, question)]
    if kind == "forged":
        forged = header((qid + 7) % 65536, 0x8583, 1, 0, 0, 0) + question
        return [forged, normal(qid, qname, qtype, question)]
    if kind == "question":
        other = name_bytes("other.test") + struct.pack(">HH", qtype, 1)
        return [normal(qid, "other.test", qtype, other)]
    if kind in ("hugetxt", "bigtxt") and qtype == MX:
        if not tcp:
            return [hdr1(0, flags=0x8780)]               # TC
        txt, n = txt_records(65000 if kind == "hugetxt" else 60000, kind == "hugetxt")
        if kind == "hugetxt":
            return [hdr1(n) + txt]
        mx = name_bytes("mx." + qname)
        return [hdr1(n + 1, 0, 1) + txt + rr(b"\xc0\x0c", MX, 60, b"\x00\x0a" + mx)
                + rr(mx, A, 60, bytes([127, 0, 0, 1]))]
    if kind == "garbage":
        return [os.urandom(300)]
    if kind == "servfail":
        return [header(qid, 0x8582, 1, 0, 0, 0) + question]
    return [normal(qid, qname, qtype, question)]


def send_all(sock, msgs, peer):
    for msg in msgs:
        sock.sendto(msg, peer)


def serve_udp(sock, stop):
    while not stop.is_set():
        try:
            data, peer = sock.recvfrom(4096)
        except socket.timeout:
            continue
        try:
            msgs = answers(data, False)
            if "slow" in parse_query(data)[1].lower().split("."):
                threading.Timer(0.02, send_all, args=(sock, msgs, peer)).start()
            else:
                send_all(sock, msgs, peer)
        except Exception:                                # a query it cannot read: no answer
            pass


def serve_tcp_client(conn):
    with conn:
        try:
            head = conn.recv(2)
            n = struct.unpack(">H", head)[0]
            data = b""
            while len(data) < n:
                chunk = conn.recv(n - len(data))
                if not chunk:
                    return
                data += chunk
            for msg in answers(data, True):
                length = min(len(msg), 65535)
                conn.sendall(struct.pack(">H", length) + msg[:length])
        except Exception:
            pass


def serve_tcp(sock, stop):
    while not stop.is_set():
        try:
            conn, _ = sock.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve_tcp_client, args=(conn,), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--lifetime", type=float, default=300)
    args = ap.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", args.port))
    udp.settimeout(0.2)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", args.port))
    tcp.listen(16)
    tcp.settimeout(0.2)
    for target, s in ((serve_udp, udp), (serve_tcp, tcp)):
        threading.Thread(target=target, args=(s, stop), daemon=True).start()
    with open(args.ready, "w", encoding="utf-8") as f:
        f.write("ready\n")
    stop.wait(args.lifetime)


if __name__ == "__main__":
    main()
