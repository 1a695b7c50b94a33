"""nullmailer: a relay-only MTA. nullmailer-send (run as user mail, in the
foreground) hands every message to one smarthost; a permanent refusal, or a
temporary one older than queuelifetime, makes nullmailer-dsn write a bounce
that goes back the same way. It sends no delay warnings, and finds no DNS
outcome of its own (it never looks up an MX).

At the first refused recipient nullmailer gives up the whole message and
reports that one refusal for every recipient, the accepted ones included:
such a report says nothing true about the others, so nullmailer is given
messages to one recipient only."""

from mtabase import MTA


SMARTHOST = "198.51.100.29"   # generic.example.org's server in script.py


class Nullmailer(MTA):
    name = "nullmailer"
    packages = ["nullmailer"]
    binary = "usr/sbin/nullmailer-send"
    warns = False
    smarthost = True
    dns_outcomes = False
    several_rcpts = False

    def files(self):
        return {
            "/etc/nullmailer/me": self.hostname + "\n",
            "/etc/nullmailer/defaultdomain": self.hostname.split(".", 1)[1] + "\n",
            "/etc/nullmailer/remotes": ("%s smtp --port=25\n" % SMARTHOST, 0o600, "mail:mail"),
            "/etc/nullmailer/queuelifetime": "%d\n" % self.cfg.lifetime,
            "/etc/nullmailer/pausetime": "5\n",
            "/etc/nullmailer/maxpause": "10\n",
            "/etc/nullmailer/sendtimeout": "30\n",
            "/etc/nullmailer/adminaddr": "\n",
        }

    def setup(self):
        return [
            "chown -R mail /var/spool/nullmailer",
            "rm -f /var/spool/nullmailer/trigger",
            "mkfifo -m 0622 /var/spool/nullmailer/trigger",
            "chown mail /var/spool/nullmailer/trigger",
        ]

    def command(self):
        return ["setpriv", "--reuid=mail", "--regid=mail", "--init-groups",
                "/usr/sbin/nullmailer-send"]

    def listening(self, timeout):
        return True

    def submit(self, sender, rcpts, data):
        r = self.ns_run(["/usr/sbin/sendmail", "-f", sender, "--"] + list(rcpts), data.encode())
        if r.returncode != 0:
            raise RuntimeError("sendmail exited %d: %s" % (
                r.returncode, r.stderr.decode(errors="replace")))
