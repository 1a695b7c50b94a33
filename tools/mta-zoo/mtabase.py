"""How an MTA of the zoo is installed and run: privately, in its own mount
and UTS namespace, inside the network and PID namespace of the zoo.

The MTA's Debian packages are unpacked (dpkg -x) into CACHE/root/NAME.
Inside its namespace, /etc, /usr and /var are overlays: the package's files
over the system's, with a private writable layer in the work folder (the
MTA's configuration is written there), so that every compiled-in path of
the MTA (/etc/exim4, /var/spool/smtpd, /usr/lib/courier, ...) is its own
and nothing of the system changes. /run is a private tmpfs. The daemon runs
in the foreground; stop() ends it, and the PID namespace ends whatever is
left when the zoo exits, also on failure.
"""

import os
import pwd
import grp
import shlex
import shutil
import signal
import smtplib
import subprocess
import time

import servers


# Users some MTAs need and the system may lack; their ids are taken above
# the system's range so that they collide with nothing.
EXTRA_USERS = {
    "Debian-exim": 64010,
    "opensmtpd": 64011,
    "opensmtpq": 64012,
    "smmsp": 64013,
    "courier": 64014,
    "dma": 64015,
}


class MTA:
    name = ""              # the folder of its fixtures, and its family
    packages = []          # the Debian packages its files come from
    version_package = ""   # the package whose version is reported
    binary = ""            # a file that must exist in the unpacked packages
    users = []             # EXTRA_USERS it needs
    expires = True         # gives up on a temporary failure within the run
    warns = True           # sends delay warnings
    smarthost = False      # relays everything to one host (no DNS, no MX)
    dns_outcomes = True    # its own DNS outcomes (NXDOMAIN, null MX) are bounced
    own_netns = False      # needs a network namespace of its own (see start)
    several_rcpts = True   # a message to several recipients gets a report it explains

    def __init__(self, run, ip, hostname, work, cache, cfg):
        self.run = run
        self.ip = ip
        self.hostname = hostname
        self.cfg = cfg
        self.dir = os.path.join(work, "%s-%s" % (self.name, run))
        self.pkgroot = os.path.join(cache, "root", self.name)
        self.proc = None
        self.log = None
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)

    # -- what subclasses give ------------------------------------------------
    def files(self):
        """{absolute path inside the namespace: (content, mode, owner)} to
        write into the private layer of /etc, /usr or /var, or any other
        path (written as is)."""
        return {}

    def setup(self):
        """Shell lines run in the namespace before the daemon starts."""
        return []

    def command(self):
        """The daemon's argv, in the foreground."""
        raise NotImplementedError

    def version(self):
        pkg = self.version_package or self.packages[0]
        path = os.path.join(self.pkgroot, ".versions", pkg)
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            return "?"

    # -- running -------------------------------------------------------------
    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def write_layer(self):
        """The private layers, and the files of the MTA in them."""
        for top in ("etc", "usr", "var"):
            for suffix in ("u", "w"):
                os.makedirs(self.path("ov", "%s.%s" % (top, suffix)), exist_ok=True)
        files = dict(self.base_files())
        files.update(self.files())
        for target, spec in files.items():
            content, mode, owner = spec if isinstance(spec, tuple) else (spec, 0o644, None)
            top = target.strip("/").split("/", 1)[0]
            if top in ("etc", "usr", "var"):
                real = self.path("ov", top + ".u", target.strip("/").split("/", 1)[1])
            else:
                real = target
            os.makedirs(os.path.dirname(real), exist_ok=True)
            with open(real, "wb") as f:
                f.write(content.encode() if isinstance(content, str) else content)
            os.chmod(real, mode)
            if owner:
                u, g = owner.split(":")
                os.chown(real, self.uid(u), self.gid(g))

    def uid(self, user):
        if user in EXTRA_USERS:
            return EXTRA_USERS[user]
        return pwd.getpwnam(user).pw_uid

    def gid(self, group):
        if group in EXTRA_USERS:
            return EXTRA_USERS[group]
        return grp.getgrnam(group).gr_gid

    def base_files(self):
        with open("/etc/passwd") as f:
            passwd = f.read()
        with open("/etc/group") as f:
            group = f.read()
        try:
            with open("/etc/shadow") as f:
                shadow = f.read()
        except OSError:
            shadow = ""
        for user in self.users:
            n = EXTRA_USERS[user]
            passwd += "%s:x:%d:%d::/nonexistent:/usr/sbin/nologin\n" % (user, n, n)
            group += "%s:x:%d:\n" % (user, n)
            shadow += "%s:!:19000::::::\n" % user
        short = self.hostname.split(".")[0]
        return {
            "/etc/passwd": passwd,
            "/etc/group": group,
            "/etc/shadow": (shadow, 0o640, None),
            "/etc/resolv.conf": "nameserver %s\noptions timeout:1 attempts:2\n" % (
                self.link[0] if self.own_netns else "127.0.0.1"),
            "/etc/hosts": "127.0.0.1 localhost\n%s %s %s\n" % (self.ip, self.hostname, short),
            "/etc/mailname": self.hostname + "\n",
            "/etc/hostname": self.hostname + "\n",
        }

    def script(self):
        lines = ["set -e"]
        if self.own_netns:
            # the far end of the link start() makes; the MTA's address on lo
            lines.append("while ! ip link show %s >/dev/null 2>&1; do sleep 0.1; done" % self.veth[1])
            lines.append("ip link set lo up")
            lines.append("ip addr add %s/30 dev %s" % (self.link[1], self.veth[1]))
            lines.append("ip addr add %s/32 dev lo" % self.ip)
            lines.append("ip link set %s up" % self.veth[1])
            lines.append("ip route add default via %s src %s" % (self.link[0], self.ip))
        for top in ("etc", "usr", "var"):
            lower = "/" + top
            pkg = os.path.join(self.pkgroot, top)
            if os.path.isdir(pkg):
                lower = pkg + ":" + lower
            lines.append("mount -t overlay overlay -o lowerdir=%s,upperdir=%s,workdir=%s /%s" % (
                lower, self.path("ov", top + ".u"), self.path("ov", top + ".w"), top))
        lines.append("mount -t tmpfs -o mode=0755 tmpfs /run")
        # a private /dev: the system's device nodes, and a /dev/log of our own
        dev = self.path("dev")
        lines.append("mkdir -p %s && mount -t tmpfs -o mode=0755 tmpfs %s" % (dev, dev))
        for node in ("null", "zero", "full", "random", "urandom", "tty", "console"):
            lines.append("touch %s/%s && mount --bind /dev/%s %s/%s" % (dev, node, node, dev, node))
        lines.append("mkdir -p %s/pts %s/shm && mount --bind /dev/pts %s/pts && "
                     "mount -t tmpfs tmpfs %s/shm" % (dev, dev, dev, dev))
        lines.append("ln -s /proc/self/fd %s/fd && ln -s /proc/self/fd/0 %s/stdin && "
                     "ln -s /proc/self/fd/1 %s/stdout && ln -s /proc/self/fd/2 %s/stderr" % (
                         dev, dev, dev, dev))
        lines.append("mount --move %s /dev" % dev)
        lines.append("/usr/bin/python3 -B %s /dev/log %s &" % (
            os.path.join(os.path.dirname(os.path.abspath(__file__)), "syslogd.py"),
            self.path("syslog")))
        lines.append("while [ ! -S /dev/log ]; do sleep 0.1; done")
        lines.append("hostname %s" % shlex.quote(self.hostname))
        lines.extend(self.setup())
        lines.append("touch %s" % self.path("ns-ready"))
        lines.append("exec " + " ".join(shlex.quote(a) for a in self.command()))
        return "\n".join(lines) + "\n"

    def start(self, index=0):
        """Starts the MTA in its namespaces. An MTA that takes every address
        of its network namespace for its own (Courier refuses to connect to
        one: "mail loops back to myself") gets a network namespace of its
        own, linked to the zoo's by a veth pair: its address is routed
        there, it reaches the rest through the link."""
        if self.own_netns:
            self.veth = ("zoo%da" % index, "zoo%db" % index)
            self.link = ("10.255.%d.1" % index, "10.255.%d.2" % index)
            subprocess.run(["ip", "link", "add", self.veth[0], "type", "veth", "peer", "name",
                            self.veth[1]], check=True)
            subprocess.run(["ip", "addr", "add", self.link[0] + "/30", "dev", self.veth[0]], check=True)
            subprocess.run(["ip", "link", "set", self.veth[0], "up"], check=True)
            subprocess.run(["ip", "route", "add", self.ip + "/32", "via", self.link[1]], check=True)
        self.write_layer()
        run = self.path("run.sh")
        with open(run, "w") as f:
            f.write(self.script())
        self.log = open(self.path("mta.log"), "wb")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--uts"] + (["--net"] if self.own_netns else []) +
            ["--propagation", "private", "sh", run],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        if self.own_netns:
            # unshare has made the namespace by the time sh waits for the link
            wait_for(lambda: os.readlink("/proc/%d/ns/net" % self.proc.pid) !=
                     os.readlink("/proc/self/ns/net"), 10, 0.05)
            subprocess.run(["ip", "link", "set", self.veth[1], "netns", str(self.proc.pid)],
                           check=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def ready(self, timeout=30):
        """The namespace is set up and the daemon listens."""
        if not wait_for(lambda: os.path.exists(self.path("ns-ready")) or not self.alive(), timeout):
            return False
        return self.alive() and self.listening(timeout)

    def listening(self, timeout):
        return servers.wait_port(self.ip, 25, timeout)

    def submit(self, sender, rcpts, data):
        """Hands one message to the MTA (SMTP from 127.0.0.1 by default)."""
        source = self.link[0] if self.own_netns else "127.0.0.1"
        with smtplib.SMTP(self.ip, 25, local_hostname="submit.example.com",
                          source_address=(source, 0), timeout=30) as s:
            s.sendmail(sender, rcpts, data)

    def ns_run(self, argv, data=None, timeout=60):
        """Runs argv inside the MTA's namespace (its /etc, /usr, /var)."""
        return subprocess.run(
            ["nsenter", "--target", str(self.proc.pid), "--mount", "--uts", "--"] + argv,
            input=data, capture_output=True, timeout=timeout)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(5)
        if self.log:
            self.log.close()

    def logs(self):
        """Log files the MTA writes besides its output."""
        return [self.path("syslog")]

    def tail(self, n=30):
        out = []
        for p in [self.path("mta.log")] + self.logs():
            try:
                with open(p, "rb") as f:
                    text = b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
                out.append("== %s\n%s" % (p, text))
            except OSError:
                pass
        return "\n".join(out)

    def keep_logs(self, dest):
        """Copies the logs out of the work folder (a tmpfs that ends with
        the run)."""
        os.makedirs(dest, exist_ok=True)
        for p in [self.path("mta.log")] + self.logs():
            if os.path.isfile(p):
                shutil.copy(p, os.path.join(dest, os.path.basename(p)))


def wait_for(cond, timeout, step=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()
