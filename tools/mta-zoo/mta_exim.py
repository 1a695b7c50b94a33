"""Exim 4 (exim4-daemon-light): a daemon in the foreground with its own
configuration (-C), spool and logs in the work folder.

Exim keeps its root privilege with -C only when the caller is root and the
file is owned by root and writable by nobody else; it runs deliveries as
exim_user, which the Debian build names Debian-exim (added to the
namespace's /etc/passwd)."""

from mtabase import MTA


class Exim(MTA):
    name = "exim"
    packages = ["exim4-daemon-light", "libidn12"]
    binary = "usr/sbin/exim4"
    users = ["Debian-exim"]

    def files(self):
        cfg = self.cfg
        if self.run == "warn":
            warning, cutoff = "%ds:1h" % cfg.warn_after, "%ds" % cfg.long_lifetime
        else:
            warning, cutoff = "0s", "%ds" % cfg.lifetime
        conf = """\
primary_hostname = {host}
qualify_domain = {domain}
spool_directory = {spool}
log_file_path = {logs}/%slog
exim_user = Debian-exim
exim_group = Debian-exim
exim_path = /usr/sbin/exim4
local_interfaces = <; {ip}.25
daemon_smtp_ports = 25
host_lookup =
rfc1413_hosts =
rfc1413_query_timeout = 0s
acl_smtp_rcpt = acl_check_rcpt
trusted_users = root
tls_advertise_hosts =
keep_environment =
delay_warning = {warning}
ignore_bounce_errors_after = 10m
timeout_frozen_after = 1h
queue_run_max = 10

begin acl

acl_check_rcpt:
  accept hosts = 127.0.0.1
  deny message = relay not permitted

begin routers

dnslookup:
  driver = dnslookup
  transport = remote_smtp
  ignore_target_hosts = 0.0.0.0
  no_more

begin transports

remote_smtp:
  driver = smtp
  interface = {ip}
  hosts_avoid_tls = *
  connect_timeout = 5s

begin retry

*   *   F,{cutoff},5s

begin rewrite
""".format(host=self.hostname, domain=self.hostname.split(".", 1)[1], ip=self.ip,
           spool=self.path("spool"), logs=self.path("log"), warning=warning, cutoff=cutoff)
        return {self.path("exim.conf"): (conf, 0o644, "root:root")}

    def setup(self):
        return [
            "mkdir -p %s %s" % (self.path("spool"), self.path("log")),
            "chown Debian-exim:Debian-exim %s %s" % (self.path("spool"), self.path("log")),
            "/usr/sbin/exim4 -C %s -bV >/dev/null" % self.path("exim.conf"),
        ]

    def command(self):
        return ["/usr/sbin/exim4", "-C", self.path("exim.conf"), "-bdf", "-q5s"]

    def logs(self):
        return [self.path("syslog"), self.path("log", "mainlog"), self.path("log", "paniclog")]
