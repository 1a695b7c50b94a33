"""The DragonFly Mail Agent (dma): no daemon; each message is handed to the
dma command inside its namespace, which delivers it in the background (MX
lookup, SMTP) and bounces to the sender itself.

dma retries a temporary failure for days (a compiled-in limit), so within a
run it bounces only permanent failures, and it sends no delay warnings."""

from mtabase import MTA


class DMA(MTA):
    name = "dma"
    packages = ["dma"]
    binary = "usr/sbin/dma"
    expires = False
    warns = False

    def files(self):
        conf = "PORT 25\nALIASES /etc/dma/aliases\nSPOOLDIR /var/spool/dma\nMAILNAME %s\n" % (
            self.hostname)
        return {"/etc/dma/dma.conf": conf, "/etc/dma/aliases": ""}

    def setup(self):
        return ["mkdir -p /var/spool/dma", "chgrp mail /var/spool/dma", "chmod 2775 /var/spool/dma"]

    def command(self):
        # keeps the namespace alive; the deliveries are dma's own processes
        return ["sleep", "infinity"]

    def listening(self, timeout):
        return True

    def submit(self, sender, rcpts, data):
        r = self.ns_run(["/usr/sbin/dma", "-f", sender, "--"] + list(rcpts), data.encode())
        if r.returncode != 0:
            raise RuntimeError("dma exited %d: %s" % (r.returncode, r.stderr.decode(errors="replace")))
