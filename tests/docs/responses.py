#!/usr/bin/env python3
"""responses.py - the live API against its document: for every operation
of docs/openapi.yaml, real requests to the test stack (its success and its
main errors), and each answer checked against what the document says of
that operation:

  - the status is one the operation documents;
  - a JSON body validates against the documented response schema (with
    python3-jsonschema; OpenAPI 3.0's `nullable` is turned into JSON
    Schema's null type, and an object schema that lists properties gets
    additionalProperties: false, so a field the code adds without
    documenting it fails here too);
  - a body of another type has a documented media type;
  - every operation was answered with a success at least once.

Environment as tests/run.sh exports it (HMS_TEST_BASE_URL, HMS_TEST_CA,
HMS_ADMIN_PASSWORD, HMS_TEST_ROOT). Prints one line per request checked and
a Criterion-style synthesis line that tests/run.sh counts; exits non-zero
if any check fails.
"""
import copy
import datetime
import json
import os
import re
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

try:
    import jsonschema
except ImportError:
    jsonschema = None

NAME = "openapi_responses"
BASE = os.environ["HMS_TEST_BASE_URL"].rstrip("/")
ROOT = os.environ.get("HMS_TEST_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
CTX = ssl.create_default_context(cafile=os.environ["HMS_TEST_CA"])
passed = 0
failed = 0
answered = set()  # (METHOD, pattern) answered with a 2xx


def ok(msg):
    global passed
    passed += 1
    print(f"{NAME}: ok - {msg}", flush=True)


def fail(msg):
    global failed
    failed += 1
    print(f"{NAME}: FAIL - {msg}", flush=True)


def finish():
    print(f"[====] Synthesis: Tested: {passed + failed} | Passing: {passed} | "
          f"Failing: {failed} | Crashing: 0", flush=True)
    sys.exit(1 if failed else 0)


# --- the document as JSON Schema ---------------------------------------------

with open(os.path.join(ROOT, "docs", "openapi.yaml"), encoding="utf-8") as f:
    DOC = json.load(f)


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        target = DOC
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def flatten_all_of(schema):
    """An allOf of object schemas as one schema (properties and required
    merged), so that additionalProperties: false sees every property."""
    schema = copy.deepcopy(resolve(schema))
    if not isinstance(schema, dict) or "allOf" not in schema:
        return schema
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    for member in schema["allOf"]:
        member = flatten_all_of(member)
        merged.setdefault("properties", {}).update(member.get("properties", {}))
        required = merged.get("required", []) + [r for r in member.get("required", [])
                                                 if r not in merged.get("required", [])]
        if required:
            merged["required"] = required
        for k, v in member.items():
            if k not in ("properties", "required"):
                merged.setdefault(k, v)
    return merged


def to_json_schema(schema, depth=0):
    """OpenAPI 3.0 schema object -> JSON Schema (draft 7), $refs inlined."""
    if depth > 40:
        raise RecursionError("schema nesting too deep (a recursive $ref?)")
    schema = flatten_all_of(schema)
    if not isinstance(schema, dict):
        return schema
    for key in ("properties",):
        if key in schema:
            schema[key] = {k: to_json_schema(v, depth + 1) for k, v in schema[key].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(key), dict):
            schema[key] = to_json_schema(schema[key], depth + 1)
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            schema[key] = [to_json_schema(s, depth + 1) for s in schema[key]]
    props = schema.get("properties")
    if props is not None:
        # An answer never carries a writeOnly field (a password).
        write_only = {k for k, v in props.items() if v.get("writeOnly")}
        if "required" in schema:
            schema["required"] = [r for r in schema["required"] if r not in write_only]
        for k in write_only:
            props.pop(k)
        schema.setdefault("additionalProperties", False)
    for key in ("readOnly", "writeOnly", "example", "discriminator", "xml", "externalDocs",
                "deprecated"):
        schema.pop(key, None)
    if schema.pop("nullable", False):
        if "type" in schema:
            schema["type"] = [schema["type"], "null"]
            if "enum" in schema and None not in schema["enum"]:
                schema["enum"] = schema["enum"] + [None]
        else:
            schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def operation(method, pattern):
    return DOC["paths"][pattern][method.lower()]


def pattern_of(path):
    """The document's path pattern that a concrete path matches."""
    path = path.split("?", 1)[0]
    for pattern in DOC["paths"]:
        regex = "^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(pattern)) + "$"
        if re.match(regex, path):
            return pattern
    return None


def explain(error):
    """Where and why, down to the deepest reason; for anyOf, each branch's."""
    if error.context:
        branches = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        return " | ".join(f"{error.validator} branch {i}: "
                          f"{explain(jsonschema.exceptions.best_match(subs))}"
                          for i, subs in sorted(branches.items()))
    where = "/".join(str(p) for p in error.absolute_path) or "(the body)"
    return f"at {where}: {error.message[:300]}"


def check_answer(method, path, status, ctype, body):
    """The answer against the document; returns the parsed JSON or None."""
    pattern = pattern_of(path)
    what = f"{method} {path} -> {status}"
    if pattern is not None and method.lower() not in DOC["paths"][pattern] and status == 405:
        # A method the path does not have: the 405 its operations document.
        responses = next((op["responses"] for op in DOC["paths"][pattern].values()
                          if isinstance(op, dict) and "405" in op.get("responses", {})), {})
    elif pattern is None or method.lower() not in DOC["paths"][pattern]:
        fail(f"{what}: no such operation in docs/openapi.yaml")
        return None
    else:
        responses = operation(method, pattern)["responses"]
    doc_response = responses.get(str(status)) or responses.get("default")
    if doc_response is None:
        fail(f"{what}: status {status} is not documented for {method} {pattern} "
             f"(documented: {', '.join(responses)})")
        return None
    doc_response = resolve(doc_response)
    content = doc_response.get("content")
    parsed = None
    if not content:
        if body.strip():
            fail(f"{what}: documented without a body, answered {body[:120]!r}")
            return None
    else:
        media = (ctype or "").split(";")[0].strip().lower()
        if media not in content:
            fail(f"{what}: Content-Type {media!r} is not documented ({', '.join(content)})")
            return None
        schema = content[media].get("schema")
        if media == "application/json" or media.endswith("+json"):
            try:
                parsed = json.loads(body)
            except ValueError:
                fail(f"{what}: the body is not JSON: {body[:120]!r}")
                return None
            if schema is not None:
                errors = sorted(jsonschema.Draft7Validator(to_json_schema(schema)).iter_errors(parsed),
                                key=lambda e: list(e.absolute_path))
                if errors:
                    fail(f"{what}: the body does not match the document: "
                         f"{explain(jsonschema.exceptions.best_match(errors))}")
                    return parsed  # the scenario goes on with what it got
    if 200 <= status < 300:
        answered.add((method.upper(), pattern))
    ok(what)
    return parsed


# --- requests ---------------------------------------------------------------

def call(method, path, token=None, body=None, expect=None, headers=None, raw=None,
         content_type="application/json"):
    """One request; its answer is checked against the document, and its
    status against expect (an int or a tuple). Returns (status, json, headers)."""
    hdrs = dict(headers or {})
    data = None
    if raw is not None:
        data = raw
        hdrs["Content-Type"] = content_type
    elif body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = content_type
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, context=CTX, timeout=30) as res:
            status, res_headers, payload = res.status, res.headers, res.read()
    except urllib.error.HTTPError as e:
        status, res_headers, payload = e.code, e.headers, e.read()
    text = payload.decode("utf-8", "replace")
    ctype = res_headers.get("Content-Type", "")
    if not (ctype.startswith("application/json") or "+json" in ctype):
        text = text if ctype.startswith("text/") else ("<binary>" if payload else "")
    parsed = check_answer(method, path, status, ctype, text if text != "<binary>" else "")
    if expect is not None and status not in (expect if isinstance(expect, tuple) else (expect,)):
        fail(f"{method} {path}: expected {expect}, got {status}: {text[:200]!r}")
    return status, parsed, res_headers


def must(value, what):
    if value is None:
        raise RuntimeError(f"cannot go on without {what}")
    return value


def login(username, password):
    _, body, _ = call("POST", "/api/auth/token/", body={"username": username, "password": password},
                      expect=200)
    return must(body, f"a token for {username}")


def multipart(fields, filename, ctype, content):
    boundary = "hmsdocsboundary7b1f"
    out = b""
    for k, v in fields.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").encode()
    out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{filename}\"\r\nContent-Type: {ctype}\r\n\r\n").encode()
    out += content + f"\r\n--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def scenario():
    run = datetime.datetime.now().strftime("%H%M%S%f")
    admin_password = os.environ["HMS_ADMIN_PASSWORD"]

    # --- public operations and the edges ---
    call("GET", "/api/health/", expect=200)
    call("POST", "/api/health/", expect=405)
    call("GET", "/api/schema/", expect=200)
    call("POST", "/api/auth/token/", body={"username": "admin", "password": "wrong-" + run},
         expect=401)
    call("POST", "/api/auth/token/", body={"username": "admin"}, expect=400)
    call("POST", "/api/auth/token/", raw=b"username=admin", content_type="text/plain", expect=415)
    pair = login("admin", admin_password)
    admin = pair["access"]
    _, pair2, _ = call("POST", "/api/auth/token/refresh/", body={"refresh": pair["refresh"]},
                       expect=200)
    call("POST", "/api/auth/token/refresh/", body={"refresh": pair["refresh"]}, expect=401)
    call("POST", "/api/auth/logout/", admin, body={"refresh": must(pair2, "a refresh")["refresh"]},
         expect=205)
    call("GET", "/api/auth/me/", expect=401)
    call("GET", "/api/auth/me/", admin, expect=200)

    # --- staff accounts, one per role ---
    password = "Docs-check-pass-" + run
    users = {}
    for role in ("doctor", "nurse", "receptionist", "billing"):
        _, u, _ = call("POST", "/api/auth/register/", admin,
                       body={"username": f"{role}{run}", "password": password, "role": role,
                             "email": f"{role}{run}@example.org", "first_name": role.title(),
                             "last_name": "Docs"}, expect=201)
        users[role] = must(u, f"a {role} account")
    call("POST", "/api/auth/register/", admin, body={"username": "x" + run, "role": "chef"},
         expect=400)
    tokens = {role: login(u["username"], password)["access"] for role, u in users.items()}
    call("POST", "/api/auth/register/", tokens["nurse"],
         body={"username": "y" + run, "password": password, "role": "nurse"}, expect=403)
    call("GET", "/api/users/", admin, expect=200)
    call("GET", "/api/users/?page_size=2&ordering=-id", admin, expect=200)
    call("GET", "/api/users/", tokens["nurse"], expect=403)
    call("GET", f"/api/users/{users['nurse']['id']}/", admin, expect=200)
    call("GET", "/api/users/999999999/", admin, expect=404)
    call("PATCH", f"/api/users/{users['nurse']['id']}/", admin, body={"first_name": "Nora"},
         expect=200)
    call("PATCH", f"/api/users/{users['nurse']['id']}/", admin, body={"role": "chef"}, expect=400)

    # --- patients ---
    patient_body = {"first_name": "Amina", "last_name": "Docs" + run, "date_of_birth": "1990-04-02",
                    "gender": "female", "contact_email": "amina@example.org", "blood_type": "O+"}
    _, patient, headers = call("POST", "/api/patients/", tokens["receptionist"], body=patient_body,
                               expect=201)
    pid = must(patient, "a patient")["id"]
    call("POST", "/api/patients/", tokens["receptionist"],
         body={**patient_body, "date_of_birth": "2990-01-01"}, expect=400)
    call("POST", "/api/patients/", tokens["billing"], body=patient_body, expect=403)
    call("GET", "/api/patients/", tokens["nurse"], expect=200)
    call("GET", f"/api/patients/?search=Docs{run}&page_size=1", tokens["nurse"], expect=200)
    _, page, _ = call("GET", "/api/patients/?cursor=", tokens["nurse"], expect=(200, 400))
    call("GET", "/api/patients/?ordering=no_such_column", tokens["nurse"], expect=400)
    _, _, headers = call("GET", f"/api/patients/{pid}/", tokens["doctor"], expect=200)
    call("GET", "/api/patients/999999999/", tokens["doctor"], expect=404)
    call("GET", f"/api/patients/{pid}/", expect=401)
    call("PUT", f"/api/patients/{pid}/", tokens["nurse"], body={**patient_body, "allergies": "none"},
         expect=200)
    call("PATCH", f"/api/patients/{pid}/", tokens["nurse"], body={"contact_phone": "+256700000001"},
         expect=200)
    call("PATCH", f"/api/patients/{pid}/", tokens["nurse"], body={"gender": "x"}, expect=400)
    call("PATCH", f"/api/patients/{pid}/", tokens["nurse"], body={"address": "Kampala"},
         headers={"If-Match": '"0"'}, expect=412)
    _, gone, _ = call("POST", "/api/patients/", admin, body={**patient_body, "first_name": "Gone"},
                      expect=201)
    gone_id = must(gone, "a second patient")["id"]
    call("DELETE", f"/api/patients/{gone_id}/", tokens["nurse"], expect=403)
    call("DELETE", f"/api/patients/{gone_id}/", admin, expect=204)
    call("POST", f"/api/patients/{gone_id}/restore/", admin, expect=200)
    call("POST", f"/api/patients/{pid}/restore/", admin, expect=409)

    # --- doctors ---
    week = [{"weekday": d, "start_time": "00:00", "end_time": "23:30"} for d in range(7)]
    doctor_body = {"user": users["doctor"]["id"], "first_name": "Daniel", "last_name": "Docs",
                   "license_number": "LIC-" + run, "specialties": ["cardiology"],
                   "slot_minutes": 30, "schedule": week}
    _, doctor, _ = call("POST", "/api/doctors/", admin, body=doctor_body, expect=201)
    did = must(doctor, "a doctor")["id"]
    call("POST", "/api/doctors/", admin, body={"first_name": "No"}, expect=400)
    call("POST", "/api/doctors/", tokens["nurse"], body=doctor_body, expect=403)
    call("GET", "/api/doctors/", tokens["billing"], expect=200)
    call("GET", f"/api/doctors/{did}/", tokens["billing"], expect=200)
    call("GET", "/api/doctors/999999999/", tokens["billing"], expect=404)
    call("PUT", f"/api/doctors/{did}/", admin, body={**doctor_body, "contact_phone": "+256700000002"},
         expect=200)
    call("PATCH", f"/api/doctors/{did}/", tokens["doctor"], body={"slot_minutes": 30}, expect=200)
    call("PATCH", f"/api/doctors/{did}/", tokens["doctor"], body={"license_number": "X"}, expect=403)
    day = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
    _, avail, _ = call("GET", f"/api/doctors/{did}/availability/?date={day}", tokens["receptionist"],
                       expect=200)
    call("GET", f"/api/doctors/{did}/availability/?date=tomorrow", tokens["receptionist"],
         expect=400)
    slots = must(avail, "the availability")["slots"]
    _, other, _ = call("POST", "/api/doctors/", admin,
                       body={"first_name": "Olive", "last_name": "Docs", "license_number": "LIC2-" + run},
                       expect=201)
    call("DELETE", f"/api/doctors/{must(other, 'a second doctor')['id']}/", admin, expect=204)

    # --- appointments ---
    appt_body = {"patient": pid, "doctor": did, "start_time": slots[0]["start_time"],
                 "reason": "Check-up"}
    _, appt, _ = call("POST", "/api/appointments/", tokens["receptionist"], body=appt_body, expect=201)
    aid = must(appt, "an appointment")["id"]
    call("POST", "/api/appointments/", tokens["receptionist"], body=appt_body, expect=409)
    call("POST", "/api/appointments/", tokens["receptionist"], body={"patient": pid}, expect=400)
    call("POST", "/api/appointments/", tokens["doctor"], body=appt_body, expect=403)
    call("GET", "/api/appointments/", tokens["doctor"], expect=200)
    call("GET", "/api/appointments/upcoming/", tokens["nurse"], expect=200)
    call("GET", f"/api/appointments/{aid}/", tokens["nurse"], expect=200)
    call("GET", "/api/appointments/999999999/", tokens["nurse"], expect=404)
    call("PUT", f"/api/appointments/{aid}/", tokens["nurse"],
         body={**appt_body, "start_time": slots[1]["start_time"]}, expect=200)
    call("PATCH", f"/api/appointments/{aid}/", tokens["doctor"], body={"notes": "Fasting"},
         expect=200)
    call("PATCH", f"/api/appointments/{aid}/", tokens["doctor"], body={"reason": "x"}, expect=403)
    _, appt2, _ = call("POST", "/api/appointments/", tokens["nurse"],
                       body={**appt_body, "start_time": slots[2]["start_time"]}, expect=201)
    call("DELETE", f"/api/appointments/{must(appt2, 'a second appointment')['id']}/",
         tokens["nurse"], expect=204)

    # --- resources and their bookings ---
    res_body = {"name": "Theatre " + run, "resource_type": "operating_room", "location": "Block A"}
    _, resource, _ = call("POST", "/api/resources/", admin, body=res_body, expect=201)
    rid = must(resource, "a resource")["id"]
    call("POST", "/api/resources/", admin, body={"name": "x", "resource_type": "boat"}, expect=400)
    call("POST", "/api/resources/", tokens["nurse"], body=res_body, expect=403)
    call("GET", "/api/resources/", tokens["nurse"], expect=200)
    call("GET", f"/api/resources/{rid}/", tokens["nurse"], expect=200)
    call("GET", f"/api/resources/{rid}/", tokens["billing"], expect=403)
    call("PUT", f"/api/resources/{rid}/", admin, body={**res_body, "location": "Block B"}, expect=200)
    call("PATCH", f"/api/resources/{rid}/", admin, body={"is_active": True}, expect=200)
    start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + \
        datetime.timedelta(days=5)
    booking_body = {"patient": pid, "purpose": "Surgery",
                    "start_time": start.isoformat().replace("+00:00", "Z"),
                    "end_time": (start + datetime.timedelta(hours=2)).isoformat().replace("+00:00", "Z")}
    _, booking, _ = call("POST", f"/api/resources/{rid}/bookings/", tokens["nurse"], body=booking_body,
                         expect=201)
    bid = must(booking, "a booking")["id"]
    call("POST", f"/api/resources/{rid}/bookings/", tokens["nurse"], body=booking_body, expect=409)
    call("POST", f"/api/resources/{rid}/bookings/", tokens["nurse"], body={"purpose": "x"},
         expect=400)
    call("GET", f"/api/resources/{rid}/bookings/", tokens["nurse"], expect=200)
    call("GET", f"/api/resource-bookings/{bid}/", tokens["nurse"], expect=200)
    call("DELETE", f"/api/resource-bookings/{bid}/", tokens["receptionist"], expect=403)
    call("DELETE", f"/api/resource-bookings/{bid}/", tokens["nurse"], expect=204)
    call("GET", "/api/resource-bookings/999999999/", tokens["nurse"], expect=404)

    # --- medical records and attachments ---
    record_body = {"record_type": "vitals", "title": "Admission vitals", "appointment": aid,
                   "notes": "Stable", "vitals": {"temperature_c": 37.2, "pulse_bpm": 80}}
    _, record, _ = call("POST", f"/api/patients/{pid}/records/", tokens["doctor"], body=record_body,
                        expect=201)
    rec = must(record, "a record")["id"]
    call("POST", f"/api/patients/{pid}/records/", tokens["doctor"], body={"title": "x"}, expect=400)
    call("POST", f"/api/patients/{pid}/records/", tokens["receptionist"], body=record_body,
         expect=403)
    call("GET", f"/api/patients/{pid}/records/", tokens["nurse"], expect=200)
    call("GET", f"/api/records/{rec}/", tokens["nurse"], expect=200)
    call("GET", f"/api/records/{rec}/", tokens["billing"], expect=403)
    call("PUT", f"/api/records/{rec}/", tokens["doctor"], body={**record_body, "notes": "Better"},
         expect=200)
    call("PATCH", f"/api/records/{rec}/", tokens["doctor"], body={"diagnosis": "Healthy"}, expect=200)
    call("PATCH", f"/api/records/{rec}/", tokens["nurse"], body={"diagnosis": "x"}, expect=(403, 404))
    call("GET", f"/api/records/{rec}/history/", tokens["doctor"], expect=200)
    with open(os.path.join(ROOT, "tests", "integration", "fixtures", "report.pdf"), "rb") as f:
        pdf = f.read()
    form, form_type = multipart({"record": rec, "description": "Referral"}, "report.pdf",
                                "application/pdf", pdf)
    _, attachment, _ = call("POST", "/api/attachments/", tokens["doctor"], raw=form,
                            content_type=form_type, expect=201)
    att = must(attachment, "an attachment")["id"]
    form, form_type = multipart({"description": "no record"}, "report.pdf", "application/pdf", pdf)
    call("POST", "/api/attachments/", tokens["doctor"], raw=form, content_type=form_type, expect=400)
    _, meta, _ = call("GET", f"/api/attachments/{att}/", tokens["nurse"], expect=200)
    url = urllib.parse.urlsplit(must(meta, "the attachment's metadata")["download_url"])
    call("GET", f"{url.path}?{url.query}", expect=200)
    call("GET", f"{url.path}?{url.query.replace('signature=', 'signature=x')}", expect=(403, 404))

    # --- billing ---
    invoice_body = {"patient": pid, "appointment": aid, "tax_rate": "16.00", "due_date": day,
                    "items": [{"description": "Consultation", "quantity": "1", "unit_price": "50.00"}]}
    _, invoice, _ = call("POST", "/api/invoices/", tokens["billing"], body=invoice_body, expect=201)
    iid = must(invoice, "an invoice")["id"]
    call("POST", "/api/invoices/", tokens["billing"], body={**invoice_body, "items": []}, expect=400)
    call("POST", "/api/invoices/", tokens["nurse"], body=invoice_body, expect=403)
    call("GET", "/api/invoices/", tokens["receptionist"], expect=200)
    call("GET", f"/api/invoices/{iid}/", tokens["receptionist"], expect=200)
    call("GET", "/api/invoices/999999999/", tokens["receptionist"], expect=404)
    call("PUT", f"/api/invoices/{iid}/", tokens["billing"], body={**invoice_body, "tax_rate": "0"},
         expect=200)
    call("PATCH", f"/api/invoices/{iid}/", tokens["billing"], body={"due_date": day}, expect=200)
    call("POST", f"/api/invoices/{iid}/payments/", tokens["billing"],
         body={"amount": "10.00", "method": "cash"}, expect=(400, 409))
    call("POST", f"/api/invoices/{iid}/issue/", tokens["billing"], expect=200)
    call("POST", f"/api/invoices/{iid}/issue/", tokens["billing"], expect=409)
    call("POST", f"/api/invoices/{iid}/payments/", tokens["billing"],
         body={"amount": "20.00", "method": "card", "reference": "R-" + run}, expect=201)
    call("POST", f"/api/invoices/{iid}/payments/", tokens["billing"],
         body={"amount": "-1", "method": "card"}, expect=400)
    call("GET", f"/api/invoices/{iid}/payments/", tokens["receptionist"], expect=200)
    call("POST", f"/api/invoices/{iid}/void/", tokens["billing"], expect=409)
    _, invoice2, _ = call("POST", "/api/invoices/", admin, body=invoice_body, expect=201)
    call("POST", f"/api/invoices/{must(invoice2, 'a second invoice')['id']}/void/", admin, expect=200)

    # --- FHIR (application/fhir+json; errors as OperationOutcome) ---
    call("GET", "/fhir/metadata", expect=200)
    call("GET", "/fhir/Patient?_count=5", admin, expect=200)
    call("GET", f"/fhir/Patient/{pid}", tokens["nurse"], expect=200)
    call("DELETE", f"/api/patients/{gone_id}/", admin, expect=204)
    call("GET", f"/fhir/Patient/{gone_id}", tokens["nurse"], expect=410)
    call("POST", f"/api/patients/{gone_id}/restore/", admin, expect=200)
    call("GET", "/fhir/Patient/999999999", admin, expect=404)
    call("GET", "/fhir/Patient", expect=401)
    call("GET", "/fhir/Patient?bogus=1", admin, headers={"Prefer": "handling=strict"}, expect=400)
    call("GET", "/fhir/Practitioner?_count=5", tokens["billing"], expect=200)
    call("GET", f"/fhir/Practitioner/{did}", tokens["billing"], expect=200)
    call("GET", "/fhir/Appointment?_count=5", admin, expect=200)
    call("GET", f"/fhir/Appointment/{aid}", tokens["receptionist"], expect=200)

    # --- the audit trail ---
    call("GET", "/api/audit/", admin, expect=200)
    call("GET", "/api/audit/?action=denied&page_size=5", admin, expect=200)
    call("GET", "/api/audit/", tokens["nurse"], expect=403)

    # --- the lists again, a full page each: the rows other
    # suites made (odd but legal data) are checked against the document too ---
    for path in ("/api/users/", "/api/patients/", "/api/doctors/", "/api/appointments/",
                 "/api/appointments/upcoming/", "/api/resources/", f"/api/resources/{rid}/bookings/",
                 f"/api/patients/{pid}/records/", f"/api/records/{rec}/history/", "/api/invoices/",
                 f"/api/invoices/{iid}/payments/", "/api/audit/"):
        sep = "&" if "?" in path else "?"
        call("GET", f"{path}{sep}page_size=100", admin if "records" not in path and
             "history" not in path else tokens["doctor"], expect=200)

    # --- last: a password change ends the account's sessions ---
    call("POST", "/api/auth/password/", tokens["receptionist"],
         body={"old_password": "wrong", "new_password": "Another-pass-" + run}, expect=400)
    call("POST", "/api/auth/password/", tokens["receptionist"],
         body={"old_password": password, "new_password": "Another-pass-" + run}, expect=204)


def main():
    if jsonschema is None:
        fail("python3-jsonschema is not installed (deploy/install-deps.sh installs it)")
        finish()
    try:
        scenario()
    except Exception as e:  # a missing fixture stops the scenario: one failure, reported
        fail(f"the scenario stopped: {type(e).__name__}: {e}")
    missing = [f"{method.upper()} {pattern}" for pattern, item in DOC["paths"].items()
               for method, op in item.items()
               if isinstance(op, dict) and "responses" in op
               and (method.upper(), pattern) not in answered]
    if missing:
        fail(f"no request was answered with a success by: {', '.join(missing)}")
    else:
        ok(f"every operation of the document ({len(answered)}) answered a request with a success")
    finish()


if __name__ == "__main__":
    main()
