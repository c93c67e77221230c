"""A third-party OAuth client against a palisade-gate (run by gate/tests/oauth_python.rs).

Authlib obtains a token with each client authentication method (client_secret_basic,
client_secret_post, private_key_jwt) from the token endpoint named by the gate's RFC 8414
metadata; PyJWT verifies each token against the gate's JWKS (jwks_uri of the metadata); then the
token calls a protected route through the gate. Prints one JSON object with what happened; the
Rust test asserts on it. Input: the JSON in the PALISADE_OAUTH_TEST environment variable.
"""

import json
import os
import sys

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT


def main() -> None:
    cfg = json.loads(os.environ["PALISADE_OAUTH_TEST"])
    base = cfg["gate"]
    meta = requests.get(base + "/.well-known/oauth-authorization-server", timeout=10).json()
    token_endpoint = base + "/oauth/token"
    out = {"metadata": meta, "results": {}}
    jwks = jwt.PyJWKClient(base + "/.well-known/jwks.json")
    for client in cfg["clients"]:
        method = client["method"]
        if method == "private_key_jwt":
            with open(client["key_pem"], encoding="ascii") as f:
                pem = f.read()
            session = OAuth2Session(
                client["id"], pem, token_endpoint_auth_method="private_key_jwt", scope="read"
            )
            session.register_client_auth_method(
                PrivateKeyJWT(token_endpoint, headers={"kid": client["kid"]}, alg=client["alg"])
            )
        else:
            session = OAuth2Session(
                client["id"], client["secret"], token_endpoint_auth_method=method, scope="read"
            )
        result = {}
        try:
            token = session.fetch_token(token_endpoint, grant_type="client_credentials")
            access = token["access_token"]
            key = jwks.get_signing_key_from_jwt(access)
            claims = jwt.decode(
                access,
                key.key,
                algorithms=["EdDSA", "ES256", "RS256"],
                audience=cfg["audience"],
                issuer=meta["issuer"],
                options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
            )
            header = jwt.get_unverified_header(access)
            api = requests.get(
                base + "/api/items",
                headers={"Authorization": "Bearer " + access},
                timeout=10,
            )
            result = {
                "ok": True,
                "token_type": token.get("token_type"),
                "expires_in": token.get("expires_in"),
                "scope": token.get("scope"),
                "typ": header.get("typ"),
                "kid": header.get("kid"),
                "claims": claims,
                "api_status": api.status_code,
                "api_body": api.json() if api.headers.get("content-type", "").startswith("application/json") else api.text,
            }
        except Exception as e:  # the Rust side reports it
            result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        out["results"][method] = result
    # A wrong secret through the same library: the RFC 6749 §5.2 error comes back.
    bad = OAuth2Session(cfg["clients"][0]["id"], "wrong", token_endpoint_auth_method="client_secret_basic")
    try:
        bad.fetch_token(token_endpoint, grant_type="client_credentials")
        out["wrong_secret"] = "accepted"
    except Exception as e:
        out["wrong_secret"] = f"{type(e).__name__}: {e}"
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
