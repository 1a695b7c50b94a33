"""The network the MTAs of the zoo talk to: a DNS server for the zone of
script.py, the scripted SMTP servers of its remote domains, and the catcher
that receives the bounces sent back to the senders.

Everything listens on addresses of the loopback interface of the private
network namespace generate.sh runs in; nothing can reach it from outside.
"""

import hashlib
import json
import logging
import socket
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from dnslib import AAAA, MX, PTR, QTYPE, RCODE, RR, SOA, TXT, A as DNS_A, DNSLabel
from dnslib.server import BaseResolver, DNSLogger, DNSServer

import script

log = logging.getLogger("zoo.servers")


def token(*parts):
    """A short id that stays the same between runs for the same inputs."""
    return hashlib.sha1("/".join(parts).encode()).hexdigest()[:12]


# --- DNS ---------------------------------------------------------------------

class Zone(BaseResolver):
    """Answers for *.example.org/.net/.com and the reverse zone from a table;
    NXDOMAIN for any other name in them."""

    def __init__(self, hosts):
        self.rr = {}         # (name, qtype) -> [RR]
        self.names = set()
        zones = ("example.org.", "example.net.", "example.com.", "in-addr.arpa.")
        self.soa = {z: RR(z, QTYPE.SOA, ttl=60, rdata=SOA(
            "ns.example.org.", "hostmaster.example.org.", (1, 60, 60, 600, 60))) for z in zones}

        def add(name, qtype, rdata):
            name = name.lower().rstrip(".") + "."
            self.names.add(name)
            self.rr.setdefault((name, qtype), []).append(RR(name, qtype, ttl=60, rdata=rdata))

        def host(name, ip):
            add(name, QTYPE.A, DNS_A(ip))
            rev = ".".join(reversed(ip.split("."))) + ".in-addr.arpa"
            add(rev, QTYPE.PTR, PTR(name.rstrip(".") + "."))

        for d in script.DOMAINS.values():
            if d.dns in ("mx", "refused", "unreachable"):
                add(d.name, QTYPE.MX, MX(d.mx + ".", 10))
                host(d.mx, d.ip)
            elif d.dns == "nodata":
                add(d.name, QTYPE.TXT, TXT("v=spf1 -all"))
            elif d.dns == "nullmx":
                add(d.name, QTYPE.MX, MX(".", 0))
            elif d.dns == "badmx":
                add(d.name, QTYPE.MX, MX(d.mx + ".", 10))
        add(script.SENDER_DOMAIN, QTYPE.MX, MX("mx." + script.SENDER_DOMAIN + ".", 10))
        host("mx." + script.SENDER_DOMAIN, script.CATCHER_IP)
        for name, ip in hosts.items():
            host(name, ip)

    def resolve(self, request, handler):
        reply = request.reply()
        qname = str(request.q.qname).lower()
        qtype = request.q.qtype
        answers = self.rr.get((qname, qtype), [])
        if qtype == QTYPE.ANY:
            answers = [r for (n, _t), rs in self.rr.items() if n == qname for r in rs]
        for rr in answers:
            reply.add_answer(rr)
        if not answers:
            if qname not in self.names:
                reply.header.rcode = RCODE.NXDOMAIN
            for z, soa in self.soa.items():
                if qname.endswith(z) or qname == z:
                    reply.add_auth(soa)
                    break
        return reply


class QuietLogger(DNSLogger):
    def __init__(self):
        super().__init__(log="-request,-reply,-truncated,-data,-recv,-send", prefix=False)


def start_dns(hosts, address="127.0.0.1"):
    zone = Zone(hosts)
    servers = [DNSServer(zone, port=53, address=address, logger=QuietLogger(), tcp=tcp)
               for tcp in (False, True)]
    for s in servers:
        s.start_thread()
    return servers


# --- SMTP ----------------------------------------------------------------------

class Journal:
    """What the servers saw: one entry per connection and per transaction,
    and the bounces the catcher received. Shared by all server threads."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.entries = []
        self.bounces = []
        self.fh = open(path, "w")

    def add(self, **entry):
        entry["t"] = time.time()
        with self.lock:
            self.entries.append(entry)
            self.fh.write(json.dumps(entry) + "\n")
            self.fh.flush()

    def bounce(self, mail_from, rcpts, data):
        with self.lock:
            self.bounces.append({"t": time.time(), "mail_from": mail_from,
                                 "rcpts": rcpts, "data": data})


class Clock:
    """The clear time of the delay-warning runs: before it, temporary
    refusals of servers and recipients that clear are given; after it,
    they are not."""

    def __init__(self):
        self.clear_at = float("inf")

    def cleared(self):
        return time.time() >= self.clear_at


def sender_run(mail_from):
    """The run ("main" or "warn") a sender address belongs to (zoo.py names
    senders MTA.RUN.CASE@example.com)."""
    parts = mail_from.split("@", 1)[0].split(".")
    return "warn" if len(parts) >= 2 and parts[1] == "warn" else "main"


class ScriptedSMTP(SMTP):
    """aiosmtpd's server with the greeting of the domain's script: a
    multi-line 220, or a refusal after which the connection is closed."""

    line_length_limit = 1 << 20

    def __init__(self, handler, domain, clock, journal, **kw):
        super().__init__(handler, **kw)
        self.zoo_domain = domain
        self.zoo_clock = clock
        self.zoo_journal = journal
        self.zoo_greeted = False

    async def push(self, status):
        if self.zoo_greeted:
            return await super().push(status)
        self.zoo_greeted = True
        d = self.zoo_domain
        client = self.session.peer[0] if self.session and self.session.peer else "?"
        values = dict(client=client, id=token(d.name, "greeting"))
        refuse = d.greet and not (d.clears and self.zoo_clock.cleared())
        if refuse:
            reply = script.REPLIES[d.greet]
            text = reply.wire(rcpt="", sender="", sdomain="", **values)
            self.zoo_journal.add(kind="greeting", ip=d.ip, client=client, code=reply.code,
                                 rid=d.greet)
            await super().push(text)
            self.transport.close()
            return None
        lines = [line.format(**values) for line in d.banner]
        text = "\r\n".join("220%s%s" % (" " if i == len(lines) - 1 else "-", line)
                           for i, line in enumerate(lines))
        return await super().push(text)


class Handler:
    """The per-recipient script of one server (one MX host), and the catcher
    of bounces addressed to the sender domain on every server. Each RCPT
    and each end of DATA is written to the journal as it is answered."""

    def __init__(self, domain, clock, journal):
        self.domain = domain
        self.clock = clock
        self.journal = journal

    def values(self, session, envelope, rcpt=""):
        sender = envelope.mail_from or ""
        return dict(client=session.peer[0], rcpt=rcpt, sender=sender,
                    sdomain=sender.split("@", 1)[-1] if "@" in sender else script.SENDER_DOMAIN,
                    id=token(self.domain.name, sender, rcpt))

    def refuses(self, rid, envelope, server_clears):
        """rid applies unless it is temporary and has cleared: the server's
        own refusals clear by the server (clears), the recipients' ones by
        the run of the sender."""
        if rid is None:
            return False
        if not script.REPLIES[rid].temporary:
            return True
        clears = server_clears if server_clears is not None else \
            sender_run(envelope.mail_from or "") == "warn"
        return not (clears and self.clock.cleared())

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        d = self.domain
        if d.mail and self.refuses(d.mail, envelope, d.clears):
            text = script.REPLIES[d.mail].wire(**self.values(session, envelope))
            self.journal.add(kind="mail", ip=d.ip, mail_from=address, code=int(text[:3]),
                             rid=d.mail)
            return text
        return "250 2.1.0 Sender <%s> OK" % address

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        low = address.lower()
        if low.endswith("@" + script.SENDER_DOMAIN):
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 <%s> OK" % address
        r = script.RCPTS.get(low)
        v = self.values(session, envelope, address)
        if r and self.refuses(r.rcpt, envelope, None):
            text = script.REPLIES[r.rcpt].wire(**v)
            self.journal.add(kind="rcpt", ip=self.domain.ip, mail_from=envelope.mail_from,
                             rcpt=address, code=script.REPLIES[r.rcpt].code, rid=r.rcpt)
            return text
        envelope.rcpt_tos.append(address)
        self.journal.add(kind="rcpt", ip=self.domain.ip, mail_from=envelope.mail_from,
                         rcpt=address, code=250, rid=None)
        return "250 " + self.domain.ok_rcpt.format(**v)

    async def handle_DATA(self, server, session, envelope):
        catch = [a for a in envelope.rcpt_tos if a.lower().endswith("@" + script.SENDER_DOMAIN)]
        if catch:
            self.journal.bounce(envelope.mail_from, catch, envelope.original_content)
            return "250 2.0.0 OK caught"
        data_rid = None
        for a in envelope.rcpt_tos:
            r = script.RCPTS.get(a.lower())
            if r and r.data and self.refuses(r.data, envelope, None):
                data_rid = r.data
                break
        v = self.values(session, envelope, envelope.rcpt_tos[0] if envelope.rcpt_tos else "")
        if data_rid:
            text = script.REPLIES[data_rid].wire(**v)
            code = script.REPLIES[data_rid].code
        else:
            text = "250 " + self.domain.ok_data.format(**v)
            code = 250
        self.journal.add(kind="data", ip=self.domain.ip, mail_from=envelope.mail_from,
                         rcpts=list(envelope.rcpt_tos), code=code, rid=data_rid)
        return text


class ScriptedController(Controller):
    def __init__(self, domain, clock, journal, **kw):
        self.zoo = (domain, clock, journal)
        super().__init__(Handler(domain, clock, journal), **kw)

    def factory(self):
        domain, clock, journal = self.zoo
        return ScriptedSMTP(self.handler, domain, clock, journal, **self.SMTP_kwargs)


CATCHER = script.Domain(script.SENDER_DOMAIN, ip=script.CATCHER_IP,
                        mx="mx." + script.SENDER_DOMAIN,
                        banner=["mx.%s ESMTP ready" % script.SENDER_DOMAIN])


def start_smtp(domain, clock, journal):
    """A scripted server for domain (CATCHER for the bounces), on its MX
    host's address, port 25."""
    c = ScriptedController(domain, clock, journal, hostname=domain.ip, port=25,
                           server_hostname=domain.mx, ready_timeout=10)
    c.start()
    return c


def wait_port(ip, port, timeout=20.0):
    """True once something accepts connections on ip:port."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((ip, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False
