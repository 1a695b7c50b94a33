"""A syslog receiver for an MTA's namespace: reads datagrams on a UNIX
socket (/dev/log of the namespace) and appends them to a file, so that the
MTAs that log only to syslog (sendmail, courier) leave a log of the run.
    syslogd.py SOCKET FILE"""

import os
import socket
import sys


def main():
    path, out = sys.argv[1], sys.argv[2]
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    with open(out, "ab", buffering=0) as f:
        while True:
            data = s.recv(65536)
            f.write(data.rstrip(b"\0\n") + b"\n")


if __name__ == "__main__":
    main()
