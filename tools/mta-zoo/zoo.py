"""The MTA zoo's driver (run by generate.sh as PID 1 of a private network,
mount and PID namespace; see README.md).

Starts the DNS server and the scripted SMTP servers of script.py, runs every
MTA twice (an expiry run with a short queue lifetime, a delay-warning run
whose temporary refusals clear after a warning), hands each of them every
message of the script, collects the bounces the MTAs send back to the
senders, and writes them with their labels:

    OUT/MTA/CASE.KIND.eml     KIND: failed, expired or delayed
    OUT/labels.jsonl          one line per file, the corpus' format

A label says what the scripted replies mean (script.py) for the recipients
the bounce is about, as the servers' journal shows they were answered; it is
never read from the bounce.
"""

import argparse
import email.utils
import glob
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

import script
import servers
from mtabase import wait_for

HERE = os.path.dirname(os.path.abspath(__file__))

# name: (module, class, expiry-run ip, warn-run ip)
MTAS = {
    "postfix": ("mta_postfix", "Postfix", "192.0.2.11", "192.0.2.12"),
    "exim": ("mta_exim", "Exim", "192.0.2.21", "192.0.2.22"),
    "sendmail": ("mta_sendmail", "Sendmail", "192.0.2.31", "192.0.2.32"),
    "opensmtpd": ("mta_opensmtpd", "OpenSMTPD", "192.0.2.41", "192.0.2.42"),
    "dma": ("mta_dma", "DMA", "192.0.2.51", "192.0.2.52"),
    "courier": ("mta_courier", "Courier", "192.0.2.61", "192.0.2.62"),
    "nullmailer": ("mta_nullmailer", "Nullmailer", "192.0.2.71", "192.0.2.72"),
}


class Config:
    lifetime = 90         # queue lifetime of the expiry runs, seconds
    long_lifetime = 900   # of the delay-warning runs
    warn_after = 20       # delay warning after, seconds
    clear_after = 70      # temporary refusals of the warning runs clear after
    grace = 75            # waiting for late bounces after the lifetime


def log(*a):
    print("zoo:", *a, flush=True)


def sh(*cmd):
    subprocess.run(cmd, check=True)


def domain_of(addr):
    return addr.rsplit("@", 1)[1].lower()


# --- what the script says will happen -------------------------------------------

def planned(case, addr, run, cleared=False):
    """(stage, outcome) for addr of case, from the script alone: outcome is
    a script.Reply, a script.Local or None (delivered)."""
    d = script.DOMAINS[domain_of(addr)]
    if d.dns != "mx":
        return ("dns" if d.dns not in ("refused", "unreachable") else "connect",
                script.LOCAL[d.dns])
    if d.greet:
        return "greeting", script.REPLIES[d.greet]
    if d.mail:
        return "mail", script.REPLIES[d.mail]
    r = script.RCPTS.get(addr.lower())
    if r and r.rcpt:
        return "rcpt", script.REPLIES[r.rcpt]
    # the end of DATA: the first accepted recipient of the same domain with a
    # DATA reply decides for the whole transaction
    for other in case.rcpts:
        if domain_of(other) != d.name:
            continue
        o = script.RCPTS.get(other.lower())
        if o and o.rcpt:
            continue
        if o and o.data:
            return "data", script.REPLIES[o.data]
    return "data", None


def temporary(outcome):
    return outcome is not None and outcome.temporary


def expected_bounces(mta, case):
    """How many bounces the MTA should send for case: a non-delivery report
    for the permanent failures, one at expiry for the temporary ones, one
    delay warning in the warning runs."""
    outs = [planned(case, a, mta.run)[1] for a in case.rcpts]
    perm = any(o is not None and not o.temporary for o in outs)
    temp = any(temporary(o) for o in outs)
    if mta.run == "warn":
        return 1 if temp and mta.warns else 0
    return (1 if perm else 0) + (1 if temp and mta.expires else 0)


def applies(mta, case):
    if case.run != mta.run:
        return False
    if mta.smarthost and not case.smarthost:
        return False
    if not mta.several_rcpts and len(case.rcpts) > 1:
        return False
    if not mta.dns_outcomes and any(script.DOMAINS[domain_of(a)].dns in
                                    ("nxdomain", "nodata", "nullmx", "badmx") for a in case.rcpts):
        return False
    return expected_bounces(mta, case) > 0


# --- what the servers' journal says happened --------------------------------------

def observed(journal, sender, case, addr, run):
    """(stage, outcome, note) for addr, from the journal where the server
    saw the recipient, else from the script (DNS, connection, greeting:
    the server cannot tell whose connection it refused)."""
    stage, plan = planned(case, addr, run)
    if stage in ("dns", "connect", "greeting"):
        return stage, plan, ""
    sender = sender.lower()
    if stage == "mail":
        seen = [e for e in journal.entries if e["kind"] == "mail" and
                (e.get("mail_from") or "").lower() == sender]
        return stage, plan, "" if seen else "no MAIL FROM seen"
    rcpts = [e for e in journal.entries if e["kind"] == "rcpt" and
             (e.get("mail_from") or "").lower() == sender and e["rcpt"].lower() == addr.lower()]
    if not rcpts:
        return stage, plan, "recipient never seen by the server"
    datas = [e for e in journal.entries if e["kind"] == "data" and
             (e.get("mail_from") or "").lower() == sender and
             addr.lower() in [r.lower() for r in e["rcpts"]]]
    events = []   # (t, stage, rid or None, code)
    for e in rcpts:
        events.append((e["t"], "rcpt", e["rid"], e["code"]))
    for e in datas:
        events.append((e["t"], "data", e["rid"], e["code"]))
    events.sort()
    if run == "warn":
        for _t, st, rid, code in events:
            if rid and 400 <= code < 500:
                return st, script.REPLIES[rid], ""
    _t, st, rid, code = events[-1]
    if st == "rcpt" and code < 300:
        return "data", None, "accepted at RCPT, no DATA seen"
    return st, (script.REPLIES[rid] if rid else None), ""


def decided_at_once(journal, sender, addr, stage):
    """A permanent refusal the MTA took as final (the server answered it
    once), though it reported it only with the expiry of the message's
    other recipients (Courier sends one report per message). A refusal at
    the greeting or a DNS outcome shows no such thing: the MTA may have
    retried it (Postfix skips a 5xx greeting, OpenSMTPD takes it for a
    network error)."""
    sender = sender.lower()
    if stage == "mail":
        n = len([e for e in journal.entries if e["kind"] == "mail" and
                 (e.get("mail_from") or "").lower() == sender])
    elif stage in ("rcpt", "data"):
        n = len([e for e in journal.entries if e["kind"] == stage and
                 (e.get("mail_from") or "").lower() == sender and
                 (e.get("rcpt", "").lower() == addr.lower() or
                  addr.lower() in [r.lower() for r in e.get("rcpts", [])]) and e["code"] >= 500])
    else:
        return False
    return n == 1


def fingerprint(reply):
    """A piece of a reply's wording to look for in a report: the longest
    literal run (no placeholder) of its first line with one, at most 30
    characters."""
    for line in reply.lines:
        best = max((p.strip() for p in re.split(r"\{[a-z]+\}", line)), key=len)
        if len(best) >= 8:
            return " ".join(best[:30].split()).lower()
    return None


def in_report(data, outcome, case):
    """Whether the report states what happened: it quotes the scripted reply
    (whitespace and case aside, as MTAs fold and re-indent), or words the
    MTA's own finding. A report that does not (sendmail's and OpenSMTPD's
    delay notices, OpenSMTPD's expiry, Exim's warning for a refused
    connection) leaves its reader nothing to know the reason by; the scorer
    counts those apart. Only the notification counts: the report before the
    copy of the returned message, without the case's own name and note (a
    report may quote the Subject). Not used for any label."""
    text = " ".join(data.decode("utf-8", "replace").split()).lower()
    cut = text.find("from: zoo sender")
    if cut >= 0:
        text = text[:cut]
    for own in (case.note, case.id):
        text = text.replace(" ".join(own.split()).lower(), " ")
    if isinstance(outcome, script.Reply):
        fp = fingerprint(outcome)
        return fp is not None and fp in text
    return any(w in text for w in outcome.words)


def record(addr, stage, outcome, kind, data, case):
    rec = record_fields(addr, stage, outcome, kind)
    rec["in_report"] = in_report(data, outcome, case)
    return rec


def record_fields(addr, stage, outcome, kind):
    if kind == "expired":
        # the queue gave up; cause is what the last refusal meant, which a
        # reader may give instead (both are right, cause_hard goes with it)
        return {"rcpt": addr, "status": "", "reply": "", "reason": "expired",
                "cause": outcome.reason,
                "cause_hard": script.is_hard(outcome.reason, outcome.temporary),
                "hard": False, "delayed": False, "stage": stage, "script": outcome.id}
    code = getattr(outcome, "code", None)
    temp = outcome.temporary
    return {"rcpt": addr, "status": outcome.enh or "", "reply": str(code) if code else "",
            "reason": outcome.reason, "hard": script.is_hard(outcome.reason, temp),
            "delayed": kind == "delayed", "stage": stage, "script": outcome.id}


# --- the run ---------------------------------------------------------------------

def setup_network(ips):
    sh("ip", "link", "set", "lo", "up")
    for ip in sorted(set(ips)):
        sh("ip", "addr", "add", ip + "/32", "dev", "lo")


def reap(tracked):
    """PID 1 inherits the orphans of the daemons: reap the ones that exit."""
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.split("/")[2])
        if fields[0] == "Z" and fields[1] == "1" and pid not in tracked:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def message(sender, case, hostname):
    date = email.utils.formatdate(localtime=True)
    mid = "<%s.%s@%s>" % (servers.token(sender, case.id), int(time.time()), hostname)
    body = ("Hello,\n\nthis message is part of bounce's MTA zoo (case %s: %s).\n"
            "Its bounce is a test fixture.\n\n-- \nThe zoo\n" % (case.id, case.note))
    head = ("From: Zoo Sender <%s>\nTo: %s\nSubject: MTA zoo: %s\nDate: %s\nMessage-ID: %s\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n"
            "Content-Transfer-Encoding: 7bit\n\n") % (sender, ", ".join(case.rcpts), case.id, date, mid)
    return (head + body).replace("\n", "\r\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--work", required=True, help="an empty folder; a private tmpfs is mounted on it")
    ap.add_argument("--mtas", default="postfix,exim,sendmail,opensmtpd,dma,courier,nullmailer")
    ap.add_argument("--logs", default="", help="copy the MTAs' logs and the journal here")
    ap.add_argument("--only", default="", help="comma-separated case ids")
    ap.add_argument("--fast", action="store_true", help="shorter times (a smoke run)")
    args = ap.parse_args()
    cfg = Config()
    if args.fast:
        cfg.lifetime, cfg.warn_after, cfg.clear_after, cfg.grace = 40, 10, 30, 30
    names = [n for n in args.mtas.split(",") if n]
    only = set(x for x in args.only.split(",") if x)

    if os.getpid() != 1:
        sys.exit("zoo.py runs as PID 1 of its namespaces: use generate.sh")
    # the work folder and /run are private tmpfs: nothing the daemons write
    # there outlives the run
    sh("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", args.work)
    sh("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run")

    mtas = []
    for n in names:
        mod, cls, ip_main, ip_warn = MTAS[n]
        klass = getattr(importlib.import_module(mod), cls)
        for run, ip in (("main", ip_main), ("warn", ip_warn)):
            if run == "warn" and not klass.warns:
                continue
            host = "mta%d.%s.example.com" % (1 if run == "main" else 2, n)
            mtas.append(klass(run, ip, host, args.work, args.cache, cfg))

    ips = [servers.CATCHER.ip] + [m.ip for m in mtas if not m.own_netns]
    ips += [d.ip for d in script.DOMAINS.values() if d.dns in ("mx", "refused")]
    setup_network(ips)
    servers.start_dns({m.hostname: m.ip for m in mtas}, "0.0.0.0")
    clock = servers.Clock()
    journal = servers.Journal(os.path.join(args.work, "journal.jsonl"))
    controllers = [servers.start_smtp(servers.CATCHER, clock, journal)]
    late = []
    for d in script.DOMAINS.values():
        if d.dns == "mx":
            controllers.append(servers.start_smtp(d, clock, journal))
        elif d.dns == "refused" and d.clears:
            late.append(d)
    log("servers up: %d SMTP, DNS on port 53" % len(controllers))

    started = []
    try:
        for i, m in enumerate(mtas):
            m.start(i + 1)
            started.append(m)
        for m in mtas:
            if not m.ready():
                log("%s/%s did not start; its log:\n%s" % (m.name, m.run, m.tail()))
                m.failed = True
            else:
                m.failed = False
        t0 = time.time()
        clock.clear_at = t0 + cfg.clear_after
        plan = {}   # (name, run, case) -> [expected count, submit time, case, mta]
        for m in mtas:
            if m.failed:
                continue
            for case in script.CASES:
                if only and case.id not in only:
                    continue
                if not applies(m, case):
                    continue
                sender = "%s.%s.%s@%s" % (m.name, m.run, case.id, script.SENDER_DOMAIN)
                try:
                    m.submit(sender, case.rcpts, message(sender, case, m.hostname))
                except Exception as e:   # a refused submission is the MTA's answer
                    log("%s/%s refused %s: %s" % (m.name, m.run, case.id, e))
                    continue
                plan[(m.name, m.run, case.id)] = [expected_bounces(m, case), time.time(), case, m]
        log("submitted %d messages to %d MTA runs" % (len(plan), len([m for m in mtas if not m.failed])))

        def counts():
            got = {}
            for b in journal.bounces:
                for r in b["rcpts"]:
                    key = tuple(r.split("@", 1)[0].split(".", 2))
                    got[key] = got.get(key, 0) + 1
            return got

        def done():
            got = counts()
            return all(got.get(k, 0) >= v[0] for k, v in plan.items())

        deadline = t0 + max(cfg.lifetime, cfg.clear_after) + cfg.grace
        tracked = set(m.proc.pid for m in started if m.proc)
        while time.time() < deadline and not done():
            if late and clock.cleared():
                for d in late:
                    controllers.append(servers.start_smtp(d, clock, journal))
                late = []
            reap(tracked)
            time.sleep(1)
        time.sleep(5)   # a bounce more than planned shows as extra
        missing = [(k, v[0], counts().get(k, 0)) for k, v in plan.items()
                   if counts().get(k, 0) < v[0]]
        for k, want, have in sorted(missing):
            log("missing: %s/%s %s: %d of %d bounces" % (k[0], k[1], k[2], have, want))
    finally:
        for m in started:
            m.stop()
            if args.logs:
                m.keep_logs(os.path.join(args.logs, "%s-%s" % (m.name, m.run)))
        if args.logs:
            shutil.copy(os.path.join(args.work, "journal.jsonl"), args.logs)
        for c in controllers:
            try:
                c.stop()
            except Exception:
                pass

    write(args, cfg, mtas, plan, journal)


def split_report(data, rcpts):
    """The recipients among rcpts that the notification names: the bounce
    before the copy of the returned message (its From: header, which
    message() writes). Only used to tell apart the reports of an MTA that
    sends one per recipient; never for a reason."""
    text = data.decode("utf-8", "replace").lower()
    cut = text.find("from: zoo sender")
    head = text if cut < 0 else text[:cut]
    return [a for a in rcpts if a.lower() in head]


def write(args, cfg, mtas, plan, journal):
    """Writes the bounces and their labels; the files and labels of MTAs
    (and, with --only, of messages) not run this time are kept."""
    out = args.out
    done_names = sorted(set(m.name for m in mtas if not m.failed))
    only = set(x for x in args.only.split(",") if x)

    def redone(mta, case):
        return mta in done_names and (not only or case in only)

    labels_path = os.path.join(out, "labels.jsonl")
    kept = []
    if os.path.exists(labels_path):
        with open(labels_path) as f:
            for line in f:
                if line.strip():
                    j = json.loads(line)
                    if not redone(j["mta"], j["case"]):
                        kept.append(line.rstrip("\n"))
    for n in done_names:
        os.makedirs(os.path.join(out, n), exist_ok=True)
        for old in glob.glob(os.path.join(out, n, "*.eml")):
            if redone(n, os.path.basename(old).split(".", 1)[0]):
                os.remove(old)

    versions = {m.name: m.version() for m in mtas}
    by_key = {}
    for b in journal.bounces:
        for r in b["rcpts"]:
            key = tuple(r.split("@", 1)[0].split(".", 2))
            by_key.setdefault(key, []).append(b)
    lines = []
    stray = 0
    for key, bounces in sorted(by_key.items()):
        if key not in plan:
            stray += len(bounces)
            log("a bounce for no planned message: %s" % (key,))
            continue
        _want, t_submit, case, m = plan[key]
        sender = "%s.%s.%s@%s" % (key[0], key[1], key[2], script.SENDER_DOMAIN)
        obs = {a: observed(journal, sender, case, a, m.run) for a in case.rcpts}
        for a, (_st, _o, note) in obs.items():
            if note:
                log("%s/%s %s %s: %s" % (m.name, m.run, case.id, a, note))
        perm = [a for a in case.rcpts if obs[a][1] is not None and not obs[a][1].temporary]
        temp = [a for a in case.rcpts if temporary(obs[a][1])]
        bounces = sorted(bounces, key=lambda x: x["t"])
        # a bounce long after the message was handed over is the one sent
        # when the queue gave up: it is about the temporary failures, and
        # about the permanent ones the MTA took for temporary (OpenSMTPD
        # retries a refusal at the greeting) when no bounce came before it
        early = [b for b in bounces if b["t"] - t_submit < cfg.lifetime * 0.75]
        seen = {}
        for b in bounces:
            decided = []
            if m.run == "warn":
                kind, who = "delayed", temp
            elif b in early:
                kind, who = "failed", perm
            else:
                kind, who = "expired", temp + ([] if early else perm)
            decided = [a for a in who if a in perm and decided_at_once(journal, sender, a, obs[a][0])]
            if len(who) > 1 and len([x for x in bounces if (x in early) == (b in early)]) > 1:
                # the MTA split the report (dma bounces each recipient on
                # its own): which of the recipients this one is about
                who = split_report(b["data"], who)
            if not who:
                log("%s/%s %s: a %s bounce the script does not explain: left out" % (
                    m.name, m.run, case.id, kind))
                continue
            seen[kind] = seen.get(kind, 0) + 1
            suffix = "" if seen[kind] == 1 else ".%d" % seen[kind]
            if seen[kind] > 1 and len(who) == len(temp if kind != "failed" else perm):
                log("%s/%s %s: one %s bounce more than planned (%s%s)" % (
                    m.name, m.run, case.id, kind, kind, suffix))
            rel = "%s/%s.%s%s.eml" % (m.name, case.id, kind, suffix)
            data = b["data"].replace(b"\r\n", b"\n")
            with open(os.path.join(out, rel), "wb") as f:
                f.write(b"Return-Path: <%s>\n" % (b["mail_from"] or "").strip("<>").encode() + data)
            expect = [record(a, obs[a][0], obs[a][1], "failed" if a in decided else kind, data, case)
                      for a in case.rcpts if a in who]
            lines.append(json.dumps({
                "file": rel, "family": m.name, "mta": m.name, "version": versions[m.name],
                "case": case.id, "kind": kind, "note": case.note, "expect": expect},
                ensure_ascii=False))
    lines = sorted(kept + lines, key=lambda l: json.loads(l)["file"])
    with open(labels_path, "w") as f:
        for line in lines:
            f.write(line + "\n")
    log("wrote %d labelled bounces to %s (%d stray)" % (len(lines), out, stray))


if __name__ == "__main__":
    main()
