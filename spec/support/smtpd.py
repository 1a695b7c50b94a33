"""A scripted SMTP server for spec/integration/mta_spec.lua (Debian's python3-aiosmtpd).

    /usr/bin/python3 spec/support/smtpd.py --port PORT --script SCRIPT.json \
        --log LOG.jsonl --ready READY [--lifetime SECONDS]

SCRIPT.json says how to answer each recipient, attempt after attempt:

    {"rcpt": {"grey@example.org": ["450 4.2.0 greylisted", "250 2.1.5 OK"]},
     "data": {"filtered@example.org": ["550 5.1.1 user unknown"]}}

The n-th RCPT TO for an address gets the n-th reply of its list, the last
one repeating; an address not listed gets its domain's reply from
"domains" ({"strict.example": "550 5.1.1 no such user"}; bounce.verify's
catch-all probe asks for random addresses), else 250. A reply may hold several
lines ("550-5.1.1 ...\\r\\n550 5.1.1 ..."). A 421 reply closes the connection
afterwards, as a real server does. The reply to the end of DATA is the next
"data" reply of the first accepted recipient that has one, else 250.

LOG.jsonl gets one JSON object per line: {"cmd": "RCPT", "rcpt": ..., "reply":
...} for each RCPT TO, and {"cmd": "DATA", "rcpt": ..., "from": ...,
"content": ..., "reply": ...} for each accepted recipient of a message whose
DATA was answered 2xx. READY is written once the server listens. The server
stops on SIGTERM or SIGINT, or by itself after --lifetime seconds (default
600) so that a test run that dies cannot leave it behind.

With "log_session": true in the script, the log also gets {"cmd": "EHLO",
"name": ...}, {"cmd": "MAIL", "from": ..., "options": [...]}, {"cmd":
"RSET"} and {"cmd": "QUIT"}; "smtputf8": true offers SMTPUTF8.
"""

import argparse
import asyncio
import json
import signal
import threading

from aiosmtpd.controller import Controller


class Scripted:
    def __init__(self, script, log):
        self.rcpt_replies = script.get("rcpt", {})
        self.data_replies = script.get("data", {})
        self.domain_replies = script.get("domains", {})
        self.log_session = script.get("log_session", False)
        self.tries = {}
        self.log = log
        self.lock = threading.Lock()

    def next_reply(self, table, kind, addr):
        replies = table.get(addr)
        if not replies:
            return None
        key = (kind, addr)
        n = self.tries.get(key, 0)
        self.tries[key] = n + 1
        return replies[min(n, len(replies) - 1)]

    def write(self, entry):
        with self.lock:
            self.log.write(json.dumps(entry) + "\n")
            self.log.flush()

    @staticmethod
    def close_after(server, reply):
        if reply.startswith("421"):
            asyncio.get_event_loop().call_soon(server.transport.close)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.log_session:
            self.write({"cmd": "EHLO", "name": hostname})
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        if self.log_session:
            self.write({"cmd": "MAIL", "from": address, "options": mail_options})
        return "250 OK"

    async def handle_RSET(self, server, session, envelope):
        if self.log_session:
            self.write({"cmd": "RSET"})
        return "250 OK"

    async def handle_QUIT(self, server, session, envelope):
        if self.log_session:
            self.write({"cmd": "QUIT"})
        return "221 Bye"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        domain = address.rpartition("@")[2].lower()
        reply = (self.next_reply(self.rcpt_replies, "rcpt", address.lower())
                 or self.domain_replies.get(domain) or "250 2.1.5 OK")
        self.write({"cmd": "RCPT", "rcpt": address, "reply": reply})
        if reply.startswith("2"):
            envelope.rcpt_tos.append(address)
        self.close_after(server, reply)
        return reply

    async def handle_DATA(self, server, session, envelope):
        reply = None
        for rcpt in envelope.rcpt_tos:
            reply = self.next_reply(self.data_replies, "data", rcpt.lower())
            if reply:
                break
        reply = reply or "250 2.0.0 OK: queued"
        if reply.startswith("2"):
            content = envelope.original_content or envelope.content or b""
            for rcpt in envelope.rcpt_tos:
                self.write({"cmd": "DATA", "rcpt": rcpt, "from": envelope.mail_from,
                            "content": content.decode("utf-8", "replace"), "reply": reply})
        self.close_after(server, reply)
        return reply


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--script", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--lifetime", type=float, default=600)
    args = ap.parse_args()
    with open(args.script, encoding="utf-8") as f:
        script = json.load(f)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with open(args.log, "a", encoding="utf-8") as log:
        controller = Controller(Scripted(script, log), hostname="127.0.0.1", port=args.port,
                                enable_SMTPUTF8=bool(script.get("smtputf8", False)))
        controller.start()
        try:
            with open(args.ready, "w", encoding="utf-8") as f:
                f.write("ready\n")
            stop.wait(args.lifetime)
        finally:
            controller.stop()


if __name__ == "__main__":
    main()
