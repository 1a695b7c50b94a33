"""The Courier mail server (courier-mta): courierd in the foreground and its
ESMTP listener (couriertcpd + courieresmtpd), with the compiled-in
/etc/courier and /var/lib/courier of its namespace. Debian's postinst work
(the courier user, the queue folders' owner, smtpaccess.dat) is done in the
namespace's setup."""

from mtabase import MTA


class Courier(MTA):
    name = "courier"
    packages = ["courier-mta", "courier-base", "courier-authlib", "libcourier-unicode4",
                "libidn12", "libgamin0"]
    version_package = "courier-mta"
    binary = "usr/lib/courier/courier/courierd"
    users = ["courier"]
    own_netns = True

    def files(self):
        cfg = self.cfg
        if self.run == "warn":
            queue, warn = "%ds" % cfg.long_lifetime, "%ds" % cfg.warn_after
        else:
            queue, warn = "%ds" % cfg.lifetime, "%ds" % (cfg.lifetime * 10)
        with open(self.pkgroot + "/etc/courier/esmtpd") as f:
            esmtpd = f.read()
        with open(self.pkgroot + "/etc/courier/courierd") as f:
            courierd = f.read()
        esmtpd += ("\nADDRESS=%s\nPORT=25\nESMTPDSTART=YES\nBOFHCHECKDNS=0\nTARPIT=0\n"
                   "TCPDOPTS=\"-noidentlookup -nodnslookup\"\n"
                   "PIDFILE=/run/courier/esmtpd.pid\n") % self.ip
        courierd += "\nESMTP_USE_STARTTLS=0\nESMTP_PREFER_IPV6_MX=0\n"
        domain = self.hostname.split(".", 1)[1]
        return {
            "/etc/courier/me": self.hostname + "\n",
            "/etc/courier/defaultdomain": domain + "\n",
            "/etc/courier/locals": "localhost\n",
            "/etc/courier/queuetime": queue + "\n",
            "/etc/courier/warntime": warn + "\n",
            "/etc/courier/retryalpha": "5s\n",
            "/etc/courier/retrybeta": "3\n",
            "/etc/courier/retrygamma": "10s\n",
            "/etc/courier/retrymaxdelta": "2\n",
            "/etc/courier/esmtpdelay": "5\n",
            "/etc/courier/esmtpd": esmtpd,
            "/etc/courier/courierd": courierd,
            "/etc/courier/smtpaccess/default": "%s\tallow,RELAYCLIENT\n" % self.link[0],
        }

    def setup(self):
        return [
            "chown -R courier:courier /var/lib/courier",
            "mkdir -p /var/lib/courier/sts",
            "chown -R courier:courier /var/lib/courier",
            "chmod 0750 /var/lib/courier",
            "mkdir -p /run/courier && chown courier:courier /run/courier",
            # the alternatives of the postinst
            "ln -sf /usr/bin/makedat.courier /usr/bin/makedat",
            "/usr/sbin/makesmtpaccess",
        ]

    def command(self):
        return ["/bin/sh", "-c",
                "/usr/lib/courier/esmtpd start && exec /usr/bin/env -i /bin/sh -c "
                "'set -a; . /etc/courier/courierd; exec /usr/lib/courier/courier/courierd'"]
