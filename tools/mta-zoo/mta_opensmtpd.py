"""OpenSMTPD (opensmtpd): smtpd in the foreground (-d) with its own
smtpd.conf; its spool and chroot are the compiled-in /var/spool/smtpd and
/var/lib/opensmtpd/empty of its namespace."""

from mtabase import MTA


class OpenSMTPD(MTA):
    name = "opensmtpd"
    packages = ["opensmtpd"]
    binary = "usr/sbin/smtpd"
    users = ["opensmtpd", "opensmtpq"]

    def files(self):
        cfg = self.cfg
        if self.run == "warn":
            times = "queue ttl %ds\nbounce warn-interval %ds\n" % (cfg.long_lifetime, cfg.warn_after)
        else:
            times = "queue ttl %ds\n" % cfg.lifetime
        conf = """\
{times}
listen on {ip} port 25 hostname {host}
action "relay" relay src {ip} helo {host}
match from any for any action "relay"
""".format(times=times, ip=self.ip, host=self.hostname)
        return {self.path("smtpd.conf"): (conf, 0o644, "root:root")}

    def setup(self):
        return [
            "mkdir -p /var/lib/opensmtpd/empty",
            "rm -rf /var/spool/smtpd",
            "/usr/sbin/smtpd -n -f %s" % self.path("smtpd.conf"),
        ]

    def command(self):
        return ["/usr/sbin/smtpd", "-d", "-f", self.path("smtpd.conf")]
