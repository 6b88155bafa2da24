#!/usr/bin/python3
"""jwt_crosscheck.py - hms's JWTs checked by an independent implementation,
PyJWT (Debian's python3-jwt), for test_auth.c.

  jwt_crosscheck.py decode KEYFILE TOKEN SUB ROLE TYPE
      verifies TOKEN (issued by hms) with the key in KEYFILE: HS256 only,
      audience hms-api, issuer hms; checks sub, role, type, jti, iat, exp and
      the kid header; prints the claims. Exit 1 on any mismatch.
  jwt_crosscheck.py sign KEYFILE SUB ROLE
      prints an access token for user SUB signed here with the key in KEYFILE
      and its kid, with the claims hms issues.
  jwt_crosscheck.py sign-other-key KEYFILE SUB ROLE
      the same, signed with a fresh random 48-byte key (same kid).

KEYFILE is hms's jwt_keys_file: one "kid:secret" per line; the first signs.
"""
import json
import os
import sys
import time
import uuid

import jwt  # PyJWT

ISSUER = "hms"
AUDIENCE = "hms-api"


def fail(message):
    print("crosscheck: " + message, file=sys.stderr)
    sys.exit(1)


def read_key(path):
    with open(path, encoding="utf-8") as f:
        line = f.readline().rstrip("\r\n")
    kid, sep, secret = line.partition(":")
    if not sep or not kid or not secret:
        fail("%s: expected kid:secret on the first line" % path)
    return kid, secret.encode("utf-8")


def decode(keyfile, token, sub, role, token_type):
    kid, secret = read_key(keyfile)
    header = jwt.get_unverified_header(token)
    if header.get("alg") != "HS256":
        fail("alg is %r, not HS256" % header.get("alg"))
    if header.get("kid") != kid:
        fail("kid is %r, not %r" % (header.get("kid"), kid))
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iat", "jti", "iss", "aud"]},
        )
    except jwt.InvalidTokenError as e:
        fail("PyJWT refused the token: %s: %s" % (type(e).__name__, e))
    if claims.get("sub") != sub or not isinstance(claims.get("sub"), str):
        fail("sub is %r, not the string %r" % (claims.get("sub"), sub))
    if claims.get("role") != role:
        fail("role is %r, not %r" % (claims.get("role"), role))
    if claims.get("type") != token_type:
        fail("type is %r, not %r" % (claims.get("type"), token_type))
    try:
        jti = uuid.UUID(claims["jti"])
    except (ValueError, TypeError, AttributeError):
        fail("jti %r is not a UUID" % claims.get("jti"))
    if str(jti) != claims["jti"]:
        fail("jti %r is not in canonical UUID form" % claims["jti"])
    iat, exp = claims["iat"], claims["exp"]
    if not isinstance(iat, int) or not isinstance(exp, int):
        fail("iat and exp must be integers: %r %r" % (iat, exp))
    if not exp > iat:
        fail("exp %d is not after iat %d" % (exp, iat))
    if abs(iat - time.time()) > 120:
        fail("iat %d is not now" % iat)
    if token_type == "access" and not 5 * 60 <= exp - iat <= 15 * 60:
        fail("an access token lives %d s, not 5 to 15 minutes" % (exp - iat))
    print(json.dumps(claims, sort_keys=True))


def sign(keyfile, sub, role, other_key):
    kid, secret = read_key(keyfile)
    if other_key:
        secret = os.urandom(48)
    now = int(time.time())
    claims = {
        "sub": sub,
        "role": role,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        "iss": ISSUER,
        "aud": AUDIENCE,
        "type": "access",
    }
    token = jwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid})
    print(token if isinstance(token, str) else token.decode("ascii"))


def main(argv):
    if len(argv) == 7 and argv[1] == "decode":
        decode(argv[2], argv[3], argv[4], argv[5], argv[6])
    elif len(argv) == 5 and argv[1] in ("sign", "sign-other-key"):
        sign(argv[2], argv[3], argv[4], argv[1] == "sign-other-key")
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
