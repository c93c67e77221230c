-- Gates serve HTTPS with a console certificate (issue #12, item 2).
--
-- The gate settings name the hostname whose current certificate every gate serves on its TLS
-- listener: the bundle says which certificate (its fingerprint and pin), and each delivery
-- seals the chain and private key to the gate it goes to. NULL: gates serve no HTTPS.

ALTER TABLE gate_settings ADD COLUMN tls_hostname TEXT REFERENCES hostnames (hostname);
