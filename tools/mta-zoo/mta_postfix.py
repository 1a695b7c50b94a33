"""Postfix (the system's package): a private instance whose configuration is
/etc/postfix of its namespace, its queue in the work folder."""

import re

from mtabase import MTA


class Postfix(MTA):
    name = "postfix"
    packages = []            # the installed postfix
    version_package = "postfix"

    def version(self):
        import subprocess
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "postfix"],
                             capture_output=True, text=True)
        return out.stdout.strip() or "?"

    def files(self):
        cfg = self.cfg
        warn = "%ds" % cfg.warn_after if self.run == "warn" else "0h"
        lifetime = "%ds" % (cfg.lifetime if self.run == "main" else cfg.long_lifetime)
        main = """\
compatibility_level = 3.6
myhostname = {host}
mydomain = {domain}
myorigin = $myhostname
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = {ip}
inet_protocols = ipv4
smtp_bind_address = {ip}
mynetworks = 127.0.0.0/8, 192.0.2.0/24
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
queue_directory = {queue}
data_directory = {data}
maillog_file = /dev/stdout
notify_classes =
biff = no
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtp_connect_timeout = 5s
maximal_queue_lifetime = {lifetime}
bounce_queue_lifetime = {lifetime}
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
delay_warning_time = {warn}
""".format(host=self.hostname, domain=self.hostname.split(".", 1)[1], ip=self.ip,
           queue=self.path("queue"), data=self.path("data"), lifetime=lifetime, warn=warn)
        with open("/etc/postfix/master.cf") as f:
            master = f.read()
        out = []
        for line in master.splitlines():
            m = re.match(r"^(\S+)(\s+)(inet|unix|unix-dgram|fifo|pass)(\s+.*)$", line)
            if m:
                fields = line.split()
                if fields[0] == "smtp" and fields[1] == "inet":
                    fields[0] = "%s:25" % self.ip
                if len(fields) >= 5:
                    fields[4] = "n"      # no chroot: the namespace is the jail
                line = " ".join(fields)
            out.append(line)
        return {
            "/etc/postfix/main.cf": main,
            "/etc/postfix/master.cf": "\n".join(out) + "\n",
        }

    def setup(self):
        return [
            "mkdir -p %s %s" % (self.path("queue"), self.path("data")),
            "chown postfix %s" % self.path("data"),
            "postfix check",
        ]

    def command(self):
        return ["postfix", "start-fg"]
