"""A third-party OAuth client talking to two palisade-gate replicas over HTTPS (run by
end2end/tests/gate-done.spec.ts).

The client knows the API as https://<hostname>/ and trusts only the CA certificate it is given
(downloaded from the console). Each gate replica listens on its own loopback port; the
`ConnectTo` transport adapter plays the load balancer (like curl's --connect-to): the URL,
the Host header, the TLS SNI and the certificate check all keep the hostname, only the TCP
connection goes to the replica's address.

With gate 1: Authlib finds the token endpoint in the RFC 8414 metadata and obtains a
client_credentials token (client_secret_basic); PyJWT verifies it against the gate's JWKS. Then
the token calls the API through gate 1 and gate 2 alternately. Prints one JSON object with what
happened; the spec asserts on it. Input: JSON in the PALISADE_HTTPS_OAUTH environment variable:
{"hostname", "ca_pem" (a path), "gates": ["127.0.0.1:port", ...], "client_id", "secret",
"audience", "api_path", "calls"}.
"""

import json
import os
import sys
from urllib.parse import urlsplit, urlunsplit

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session
from requests.adapters import HTTPAdapter


class ConnectTo(HTTPAdapter):
    """Sends requests for `hostname` (any port) to `address` ("ip:port"); SNI, Host and the
    certificate's name check stay `hostname`."""

    def __init__(self, hostname: str, address: str):
        self.hostname = hostname
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["server_hostname"] = self.hostname
        super().init_poolmanager(*args, **kwargs)

    def send(self, request, **kwargs):
        url = urlsplit(request.url)
        if url.hostname != self.hostname:
            raise ValueError(f"this adapter only reaches {self.hostname}, not {url.hostname}")
        request.headers["Host"] = url.netloc
        request.url = urlunsplit(url._replace(netloc=self.address))
        return super().send(request, **kwargs)


def reach(session: requests.Session, hostname: str, address: str, ca_pem) -> requests.Session:
    """Mounts the adapter; `ca_pem` is the only trust anchor (True: the system's)."""
    session.mount(f"https://{hostname}", ConnectTo(hostname, address))
    session.verify = ca_pem
    if ca_pem is not True:
        # Otherwise REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE, when set, silently replace
        # session.verify (requests merges the environment over the session's setting).
        session.trust_env = False
    return session


def main() -> None:
    cfg = json.loads(os.environ["PALISADE_HTTPS_OAUTH"])
    host, ca = cfg["hostname"], cfg["ca_pem"]
    base = f"https://{host}"
    out = {}

    # The same address without the console's CA: the client must refuse the certificate.
    untrusted = reach(requests.Session(), host, cfg["gates"][0], True)
    try:
        untrusted.get(base + "/.well-known/oauth-authorization-server", timeout=10)
        out["without_ca"] = "accepted"
    except requests.exceptions.SSLError as e:
        out["without_ca"] = f"SSLError: {e}"

    client = reach(
        OAuth2Session(cfg["client_id"], cfg["secret"], token_endpoint_auth_method="client_secret_basic"),
        host,
        cfg["gates"][0],
        ca,
    )
    meta = client.get(base + "/.well-known/oauth-authorization-server", timeout=10, withhold_token=True).json()
    out["metadata"] = meta
    token = client.fetch_token(meta["token_endpoint"], grant_type="client_credentials", timeout=10)
    access = token["access_token"]
    jwks = jwt.PyJWKSet.from_dict(client.get(meta["jwks_uri"], timeout=10, withhold_token=True).json())
    kid = jwt.get_unverified_header(access)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    out["claims"] = jwt.decode(
        access,
        key.key,
        algorithms=["EdDSA", "ES256", "RS256"],
        audience=cfg["audience"],
        issuer=meta["issuer"],
        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
    )
    out["token_type"] = token.get("token_type")

    # The same token through each replica in turn (Authlib adds it as a Bearer header).
    replicas = [client] + [
        reach(OAuth2Session(cfg["client_id"], token=token), host, g, ca) for g in cfg["gates"][1:]
    ]
    calls = []
    for i in range(cfg["calls"]):
        n = i % len(replicas)
        r = replicas[n].get(base + cfg["api_path"], timeout=10)
        calls.append({"gate": n + 1, "status": r.status_code, "body": r.text[:200],
                      "ratelimit": r.headers.get("ratelimit")})
    out["calls"] = calls
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
