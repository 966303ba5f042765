"""The ceiling for any client of a POP3 server: a socket that sends every RETR at once and
only counts terminators (no parsing, no storage). Run by the benchmarks, by hand:

    python tests/bench/raw_client.py HOST PORT USER PASSWORD [CAFILE]

With CAFILE it speaks implicit TLS (port 995 style). Prints the octets received.
"""

import socket
import ssl
import sys
import threading

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
sock: socket.socket = socket.create_connection((host, port))
if len(sys.argv) > 5:
    sock = ssl.create_default_context(cafile=sys.argv[5]).wrap_socket(sock, server_hostname=host)
reader = sock.makefile("rb")


def status() -> bytes:
    line = reader.readline()
    if not line.startswith(b"+OK"):
        raise SystemExit(f"unexpected {line!r}")
    return line


status()
sock.sendall(f"USER {user}\r\nPASS {password}\r\nSTAT\r\n".encode())
status()
status()
count = int(status().split()[1])


def send_all() -> None:
    sock.sendall(b"".join(b"RETR %d\r\n" % i for i in range(1, count + 1)))


threading.Thread(target=send_all, daemon=True).start()
# Every reply ends with CRLF.CRLF; body octets never hold it (dot-stuffing).
seen, total, tail = 0, 0, b""
while seen < count:
    chunk = reader.read1(1 << 20)
    if not chunk:
        raise SystemExit("the server closed early")
    total += len(chunk)
    # Within the chunk, and across its start (a terminator has 5 octets: never in a tail of 4).
    seen += chunk.count(b"\r\n.\r\n") + (tail + chunk[:4]).count(b"\r\n.\r\n")
    tail = (tail + chunk)[-4:] if len(chunk) < 4 else chunk[-4:]
sock.sendall(b"QUIT\r\n")
print(total)
