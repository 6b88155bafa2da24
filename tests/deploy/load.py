#!/usr/bin/env python3
"""load.py - the load client of the fault tests under load, and its report.

    load.py run --port P --ca CA --token T --seconds S --clients N
                --mix create|read|mixed|upload --out ANSWERS [--read-ids 1,2,3]
                [--record R --upload-bytes B] [--request-ids PREFIX]
                [--idempotent [--retry-grace G]]
    load.py report ANSWERS --fault T0 [--healed T1] [--grace G] [--acked-ids FILE]
                [--acked-reads FILE]

`run` keeps N clients busy on https://127.0.0.1:P for S seconds, each on
its own keep-alive connection (reopened after an error), and logs one line
per request, in the order answers arrive:

    <sent> <answered> <method> <status> <created id or -> <request id> <flags>

times in seconds since the epoch; status 0 for a connection that failed
without an answer, the status negated for an answer whose body is not JSON.
Each request carries its own X-Request-ID (PREFIX-client-n; the audit row
of the request has it); flags are R when the answer had a Retry-After
header, P when it was a replay (Idempotent-Replayed), - for neither. (report also reads logs of the first five columns.)
`create` POSTs patients (as the token's user), `read` GETs one patient
(given by --read-ids, chosen in turn), `mixed` alternates the two, each
client reading the patient it created last, `upload` POSTs a text file of
--upload-bytes to --record as a multipart/form-data attachment (the token's
user must be a doctor or nurse).
With --idempotent every create carries an Idempotency-Key (PREFIX-client-n)
and a create that got no 2xx (a 5xx, or no answer) is sent again, same
key and same body, until it gets one (also up to G seconds past the end,
default 10): a client that loses nothing and writes nothing twice. Each
attempt has its own request id (PREFIX-client-n.attempt).

`report` reads that log around a fault that began at T0 (and was healed at
T1, default T0) and prints `key=value` lines, one per figure:

    answers acked failed nonjson          all answers, 2xx, other, not JSON
    acked_before acked_after              2xx answered before T0, sent after T1
    failed_outside                        failures sent after T1 + G or
                                          answered before T0: not the fault's
    failed_posts failed_gets              failures by method
    recover_s                             first 2xx to a request sent after T0,
                                          in seconds after T0 (-1: none)
    gap_s                                 the longest time without a 2xx answer
    failed_statuses                       e.g. 503:12,502:1 (- if none)
    retry_after                           failures that carried Retry-After
    healed_s                              first 2xx to a request sent after
                                          T1, answered how long after T1 (-1)

and, with --acked-ids, writes the ids of the acknowledged creations as a
comma-separated list (for a SQL ANY('{...}') check); with --acked-reads,
the request ids of the acknowledged GETs, the same way (their audit rows).
"""
import argparse
import http.client
import json
import os
import ssl
import sys
import threading
import time


def run(args):
    ctx = ssl.create_default_context(cafile=args.ca)
    end = time.time() + args.seconds
    lock = threading.Lock()
    log = open(args.out, "w", buffering=1)
    headers = {"Authorization": "Bearer " + args.token, "Content-Type": "application/json"}
    read_ids = [i for i in args.read_ids.split(",") if i] if args.read_ids else []
    if args.mix == "read" and not read_ids:
        sys.exit("load.py: --mix read needs --read-ids")
    if args.mix == "upload" and not args.record:
        sys.exit("load.py: --mix upload needs --record")
    prefix = args.request_ids or "load%d" % os.getpid()
    boundary = "l0adB0undary"
    upload_head = ("--%s\r\nContent-Disposition: form-data; name=\"record\"\r\n\r\n%s\r\n"
                   "--%s\r\nContent-Disposition: form-data; name=\"file\"; "
                   "filename=\"load.txt\"\r\nContent-Type: text/plain\r\n\r\n"
                   % (boundary, args.record, boundary)).encode()
    upload_tail = ("\r\n--%s--\r\n" % boundary).encode()

    def client(n):
        conn, i, last_id = None, 0, read_ids[n % len(read_ids)] if read_ids else None
        retry, attempt, create = False, 0, False
        while time.time() < end or (retry and time.time() < end + args.retry_grace):
            if retry:
                attempt += 1
            else:
                i, attempt = i + 1, 0
                create = args.mix == "create" or (args.mix == "mixed" and (i % 2 == 1 or last_id is None))
            request_id = "%s-%d-%d" % (prefix, n, i) + (".%d" % attempt if attempt else "")
            hdrs = dict(headers, **{"X-Request-ID": request_id})
            if create and args.idempotent:
                hdrs["Idempotency-Key"] = "%s-%d-%d" % (prefix, n, i)
            if args.mix == "upload":
                method, path = "POST", "/api/attachments/"
                body = upload_head + (b"upload %d %d\n" % (n, i)).ljust(args.upload_bytes, b"x") \
                    + upload_tail
                hdrs["Content-Type"] = "multipart/form-data; boundary=" + boundary
            elif create:
                method, path = "POST", "/api/patients/"
                body = json.dumps({"first_name": "Load%d" % n, "last_name": "Fault%d" % i,
                                   "date_of_birth": "1980-01-01", "gender": "female"})
            else:
                pid = last_id if args.mix == "mixed" else read_ids[(n + i) % len(read_ids)]
                method, path, body = "GET", "/api/patients/%s/" % pid, None
            t0, status, created, flags = time.time(), 0, "-", "-"
            try:
                if conn is None:
                    conn = http.client.HTTPSConnection("127.0.0.1", args.port, context=ctx,
                                                       timeout=args.timeout)
                conn.request(method, path, body, hdrs)
                r = conn.getresponse()
                data = r.read()
                status = r.status
                flags = ("R" if r.getheader("Retry-After") is not None else "") + \
                    ("P" if r.getheader("Idempotent-Replayed") == "true" else "") or "-"
                try:
                    doc = json.loads(data)
                except ValueError:
                    doc, status = None, -status
                if status == 201 and isinstance(doc, dict):
                    created = str(doc["id"])
                    last_id = created
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except Exception:
                if conn is not None:
                    conn.close()
                conn = None
            with lock:
                log.write("%.3f %.3f %s %d %s %s %s\n"
                          % (t0, time.time(), method, status, created, request_id, flags))
            retry = args.idempotent and create and not 200 <= status < 300 and \
                (status <= 0 or status >= 500)
            if not 200 <= status < 300:
                time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def report(args):
    rows = []
    for line in open(args.answers):
        f = line.split()
        request_id, flags = (f[5], f[6]) if len(f) >= 7 else ("-", "-")
        rows.append((float(f[0]), float(f[1]), f[2], int(f[3]), f[4], request_id, flags))
    fault, healed = args.fault, args.healed if args.healed is not None else args.fault
    ok = [r for r in rows if 200 <= r[3] < 300]
    bad = [r for r in rows if not 200 <= r[3] < 300]
    statuses = {}
    for r in bad:
        statuses[r[3]] = statuses.get(r[3], 0) + 1
    first = min((r[1] for r in ok if r[0] >= fault), default=None)
    healed_at = min((r[1] for r in ok if r[0] >= healed), default=None)
    answers_at = sorted(r[1] for r in ok)
    gap, prev = 0.0, min((r[0] for r in rows), default=0.0)
    for t in answers_at:
        gap, prev = max(gap, t - prev), t
    if rows:
        gap = max(gap, max(r[1] for r in rows) - prev)
    figures = {
        "answers": len(rows),
        "acked": len(ok),
        "failed": len(bad),
        "nonjson": sum(1 for r in rows if r[3] <= 0),
        "acked_before": sum(1 for r in ok if r[1] < fault),
        "acked_after": sum(1 for r in ok if r[0] > healed),
        "failed_outside": sum(1 for r in bad if r[0] > healed + args.grace or r[1] < fault),
        "failed_posts": sum(1 for r in bad if r[2] == "POST"),
        "failed_gets": sum(1 for r in bad if r[2] == "GET"),
        "recover_s": "%.2f" % (first - fault) if first is not None else "-1",
        "gap_s": "%.2f" % gap,
        "failed_statuses": ",".join("%d:%d" % kv for kv in sorted(statuses.items())) or "-",
        "retry_after": sum(1 for r in bad if "R" in r[6]),
        "healed_s": "%.2f" % (healed_at - healed) if healed_at is not None else "-1",
    }
    for k, v in figures.items():
        print("%s=%s" % (k, v))
    if args.acked_ids:
        with open(args.acked_ids, "w") as f:
            f.write(",".join(r[4] for r in ok if r[4] != "-"))
    if args.acked_reads:
        with open(args.acked_reads, "w") as f:
            f.write(",".join(r[5] for r in ok if r[2] == "GET" and r[5] != "-"))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--ca", required=True)
    r.add_argument("--token", required=True)
    r.add_argument("--seconds", type=float, required=True)
    r.add_argument("--clients", type=int, default=4)
    r.add_argument("--mix", choices=("create", "read", "mixed", "upload"), default="create")
    r.add_argument("--read-ids", default="")
    r.add_argument("--record", default="")
    r.add_argument("--upload-bytes", type=int, default=4096)
    r.add_argument("--request-ids", default="")
    r.add_argument("--timeout", type=float, default=15)
    r.add_argument("--idempotent", action="store_true")
    r.add_argument("--retry-grace", type=float, default=10)
    r.add_argument("--out", required=True)
    s = sub.add_parser("report")
    s.add_argument("answers")
    s.add_argument("--fault", type=float, required=True)
    s.add_argument("--healed", type=float)
    s.add_argument("--grace", type=float, default=0.0)
    s.add_argument("--acked-ids")
    s.add_argument("--acked-reads")
    args = p.parse_args()
    run(args) if args.cmd == "run" else report(args)


if __name__ == "__main__":
    main()
