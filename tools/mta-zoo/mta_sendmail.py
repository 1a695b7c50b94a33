"""Sendmail (sendmail-bin): the daemon in the foreground (-bD) with a
sendmail.cf built by m4 from Debian's sendmail-cf, queue in the work folder.

Sendmail logs only to syslog, which this machine lacks; what it did shows in
its bounces and in the servers' journal."""

import os
import subprocess

from mtabase import MTA


class Sendmail(MTA):
    name = "sendmail"
    packages = ["sendmail-bin", "sendmail-cf", "m4"]
    binary = "usr/libexec/sendmail/sendmail"
    users = ["smmsp"]

    def mc(self):
        cfg = self.cfg
        if self.run == "warn":
            warn, ret = "%ds" % cfg.warn_after, "%ds" % cfg.long_lifetime
        else:
            warn, ret = "%ds" % (cfg.lifetime * 10), "%ds" % cfg.lifetime
        cfdir = os.path.join(self.pkgroot, "usr/share/sendmail/cf")
        return """\
divert(-1)
divert(0)dnl
include(`{cf}/m4/cf.m4')dnl
VERSIONID(`bounce mta-zoo')dnl
OSTYPE(`linux')dnl
define(`confDOMAIN_NAME', `{host}')dnl
define(`QUEUE_DIR', `{queue}')dnl
define(`STATUS_FILE', `{dir}/statistics')dnl
define(`ALIAS_FILE', `')dnl
define(`HELP_FILE', `/etc/mail/helpfile')dnl
define(`confPID_FILE', `{dir}/sendmail.pid')dnl
define(`confTO_QUEUEWARN', `{warn}')dnl
define(`confTO_QUEUERETURN', `{ret}')dnl
define(`confTO_IDENT', `0s')dnl
define(`confTO_CONNECT', `5s')dnl
define(`confDONT_PROBE_INTERFACES', `True')dnl
define(`confMIN_QUEUE_AGE', `0s')dnl
define(`confDELIVERY_MODE', `background')dnl
define(`confCLIENT_OPTIONS', `Family=inet, Addr={ip}')dnl
define(`confLOG_LEVEL', `9')dnl
define(`confCT_FILE', `')dnl
FEATURE(`no_default_msa')dnl
DAEMON_OPTIONS(`Family=inet, Addr={ip}, Port=25, Name=MTA')dnl
MAILER(`local')dnl
MAILER(`smtp')dnl
""".format(cf=cfdir, host=self.hostname, queue=self.path("mqueue"), dir=self.dir,
           warn=warn, ret=ret, ip=self.ip)

    def files(self):
        m4 = os.path.join(self.pkgroot, "usr/bin/m4")
        mc = self.mc()
        out = subprocess.run([m4], input=mc, capture_output=True, text=True, check=True)
        return {
            self.path("sendmail.mc"): mc,
            self.path("sendmail.cf"): (out.stdout, 0o644, "root:root"),
        }

    def setup(self):
        return [
            "mkdir -p %s" % self.path("mqueue"),
            "chmod 0700 %s" % self.path("mqueue"),
        ]

    def command(self):
        return ["/usr/libexec/sendmail/sendmail", "-C", self.path("sendmail.cf"), "-bD", "-q5s"]
