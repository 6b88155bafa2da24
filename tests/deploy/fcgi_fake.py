#!/usr/bin/env python3
"""fcgi_fake.py - a stand-in application host for tests/deploy/apache_balancer.sh.

    fcgi_fake.py PORT MODE LOG

Listens for FastCGI on 127.0.0.1:PORT. Every request it receives whole
(parameters and body) is appended to LOG as "METHOD REQUEST_ID". Then, in
MODE "answer", it answers 200 with a small JSON body; in MODE "drop" it
closes the connection without a word: a host that took the request and
died before answering, the case in which a write must never be sent to
another host.
"""
import socketserver
import struct
import sys

BEGIN, END, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def records(sock):
    while True:
        _, rtype, rid, length, padding, _ = struct.unpack("!BBHHBB", read_exact(sock, 8))
        body = read_exact(sock, length)
        read_exact(sock, padding)
        yield rtype, rid, body


def pairs(data):
    out, i = {}, 0

    def length():
        nonlocal i
        if data[i] < 128:
            i += 1
            return data[i - 1]
        n = struct.unpack("!I", data[i:i + 4])[0] & 0x7FFFFFFF
        i += 4
        return n

    while i < len(data):
        nlen, vlen = length(), length()
        name, value = data[i:i + nlen], data[i + nlen:i + nlen + vlen]
        i += nlen + vlen
        out[name.decode()] = value.decode(errors="replace")
    return out


def record(rtype, rid, body):
    pad = (8 - len(body) % 8) % 8
    return struct.pack("!BBHHBB", 1, rtype, rid, len(body), pad, 0) + body + b"\0" * pad


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        params, rid = b"", 1
        try:
            for rtype, rid, body in records(self.request):
                if rtype == PARAMS:
                    params += body
                elif rtype == STDIN and not body:
                    break
        except EOFError:
            return
        env = pairs(params)
        with open(LOG, "a") as f:
            f.write(f"{env.get('REQUEST_METHOD')} {env.get('HTTP_X_REQUEST_ID')}\n")
        if MODE == "drop":
            return
        out = b'Status: 200 OK\r\nContent-Type: application/json\r\n\r\n{"host":"' + NAME + b'"}\n'
        self.request.sendall(record(STDOUT, rid, out) + record(STDOUT, rid, b"")
                             + record(END, rid, struct.pack("!IB3x", 0, 0)))


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    PORT, MODE, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    NAME = str(PORT).encode()
    with Server(("127.0.0.1", PORT), Handler) as server:
        server.serve_forever()
