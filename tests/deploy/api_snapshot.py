#!/usr/bin/env python3
"""api_snapshot.py BASE CA PASSWORD OUT [RECORD_PATIENT_IDS...]

Logs in as admin and writes to OUT (JSON) the answers of a set of GETs:
every page of users, patients (deleted ones too), doctors, appointments,
invoices, resources, each given patient's records, and each attachment's
metadata (its download_url removed: it is signed per request). The origin
in links is replaced by ORIGIN so two stacks' snapshots compare.
Also downloads every attachment through its signed URL and records the
SHA-256 of what came back, beside the sha256 the metadata claims.
"""
import hashlib
import json
import ssl
import sys
import urllib.request

base, ca, password, out = sys.argv[1:5]
record_patients = sys.argv[5:]
ctx = ssl.create_default_context(cafile=ca)


def call(path, token=None, body=None, raw=False):
    url = path if path.startswith("https://") else base + path
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body else None)
    if body:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        data = r.read()
        return data if raw else json.loads(data)


def scrub(v):
    if isinstance(v, dict):
        return {k: scrub(x) for k, x in v.items() if k != "download_url"}
    if isinstance(v, list):
        return [scrub(x) for x in v]
    if isinstance(v, str) and v.startswith(base):
        return "ORIGIN" + v[len(base):]
    return v


token = call("/api/auth/token/", body={"username": "admin", "password": password})["access"]
snap = {}
attachment_ids = set()


def pages(path):
    url, n = path, 0
    while url:
        page = call(url, token)
        snap["GET " + (url if n == 0 else url[len(base):])] = scrub(page)
        for item in page.get("results", []):
            yield item
        url, n = page.get("next"), n + 1


for path in ("/api/users/", "/api/patients/?include_deleted=true&ordering=created_at",
             "/api/doctors/", "/api/appointments/?ordering=start_time", "/api/invoices/",
             "/api/resources/"):
    for _ in pages(path + ("&" if "?" in path else "?") + "page_size=100"):
        pass
for pid in record_patients:
    # A soft-deleted patient's records and files too: the admin asks.
    for rec in pages("/api/patients/%s/records/?include_deleted=true&page_size=100" % pid):
        attachment_ids.update(a["id"] for a in rec.get("attachments", []))
downloads = {}
for aid in sorted(attachment_ids):
    meta = call("/api/attachments/%d/?include_deleted=true" % aid, token)
    snap["GET /api/attachments/%d/" % aid] = scrub(meta)
    got = hashlib.sha256(call(meta["download_url"], raw=True)).hexdigest()
    downloads[str(aid)] = {"claimed": meta["sha256"], "downloaded": got}
result = {"answers": snap, "downloads": downloads,
          "audit_count": call("/api/audit/?page_size=1", token)["count"]}
with open(out, "w") as f:
    json.dump(result, f, indent=1, sort_keys=True)
print("%d answers, %d attachments downloaded" % (len(snap), len(downloads)))
