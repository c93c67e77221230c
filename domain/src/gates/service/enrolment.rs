//! Adding a gate with its one-time enrolment command, a new command, revoking, the gate's
//! enrolment call, and the signature check of its later calls.

use super::*;

impl GatesService {
    /// The shell command that enrols a gate with `token`. The token is attached with `=`: a
    /// base64url token may start with `-`, which a command-line parser would otherwise read as
    /// a flag.
    pub fn enrol_command(&self, token: &str) -> String {
        format!(
            "palisade-gate enroll --console {} --token={token} --data-dir /var/lib/palisade-gate",
            self.public_url
        )
    }

    /// Adds a gate and returns its one-time enrolment token (valid one hour) and command.
    pub async fn add(
        &self,
        actor: &Actor,
        name: &str,
        labels: &str,
        push_url: &str,
    ) -> Result<NewGate, Error> {
        let id = uuid::Uuid::new_v4().to_string();
        let target = Target::gate(&id);
        self.audit
            .run(actor, action::GATES_ADD, &target, async {
                let name = parse_name(name)?;
                let labels = parse_labels(labels)?;
                let push_url = parse_push_url(push_url)?;
                let token = random_token();
                let now = now_ms();
                let gate = GateRecord {
                    id: id.clone(),
                    name: name.clone(),
                    labels,
                    push_url,
                    public_key: None,
                    encryption_key: None,
                    enrol_token_hash: Some(token_hash(token.expose_secret())),
                    enrol_expires_at_ms: Some(now + ENROL_TOKEN_TTL_MS),
                    enrolled_at_ms: None,
                    revoked_at_ms: None,
                    applied_version: None,
                    applied_at_ms: None,
                    last_seen_ms: None,
                    last_error: None,
                    last_error_at_ms: None,
                    version: Version::FIRST.get(),
                    created_at_ms: now,
                    updated_at_ms: now,
                };
                let event = Audit::success(
                    actor,
                    action::GATES_ADD,
                    &target,
                    json!({ "name": gate.name, "labels": gate.labels, "push_url": gate.push_url,
                            "token_expires_at_ms": gate.enrol_expires_at_ms }),
                );
                self.store
                    .apply_gate_change(&GateChange::Insert(Box::new(gate.clone())), event)
                    .await
                    .map_err(|e| store_error(e, &name))?;
                let command = self.enrol_command(token.expose_secret());
                Ok(NewGate {
                    gate,
                    token,
                    command,
                })
            })
            .await
    }

    /// A new enrolment token for a gate that has not enrolled yet (the earlier one stops working).
    pub async fn new_token(
        &self,
        actor: &Actor,
        id: &str,
        version: &str,
    ) -> Result<NewGate, Error> {
        let target = Target::gate(id);
        self.audit
            .run(actor, action::GATES_NEW_TOKEN, &target, async {
                let expected = Version::parse(version, "gate")?;
                let g = self.find(id).await?;
                expected.expect(g.version, &format!("the gate {:?}", g.name))?;
                if g.revoked_at_ms.is_some() || g.public_key.is_some() {
                    return Err(Error::Conflict(format!(
                        "the gate {:?} is {}: it needs no enrolment token",
                        g.name,
                        if g.revoked_at_ms.is_some() {
                            "revoked"
                        } else {
                            "enrolled"
                        }
                    )));
                }
                let token = random_token();
                let expires = now_ms() + ENROL_TOKEN_TTL_MS;
                let change = GateChange::NewToken {
                    id: g.id.clone(),
                    token_hash: token_hash(token.expose_secret()),
                    expires_at_ms: expires,
                    replaces: g.version,
                };
                let event = Audit::success(
                    actor,
                    action::GATES_NEW_TOKEN,
                    &target,
                    json!({ "name": g.name, "token_expires_at_ms": expires }),
                );
                self.store
                    .apply_gate_change(&change, event)
                    .await
                    .map_err(|e| store_error(e, &g.name))?;
                let command = self.enrol_command(token.expose_secret());
                let gate = self.find(id).await?;
                Ok(NewGate {
                    gate,
                    token,
                    command,
                })
            })
            .await
    }

    /// Revokes a gate: its calls are refused from now on and nothing is pushed to it.
    pub async fn revoke(&self, actor: &Actor, id: &str, version: &str) -> Result<(), Error> {
        let target = Target::gate(id);
        self.audit
            .run(actor, action::GATES_REVOKE, &target, async {
                let expected = Version::parse(version, "gate")?;
                let g = self.find(id).await?;
                expected.expect(g.version, &format!("the gate {:?}", g.name))?;
                if g.revoked_at_ms.is_some() {
                    return Err(Error::Conflict(format!(
                        "the gate {:?} is revoked already",
                        g.name
                    )));
                }
                let event = Audit::success(
                    actor,
                    action::GATES_REVOKE,
                    &target,
                    json!({ "name": g.name, "applied_version": g.applied_version }),
                );
                let change = GateChange::Revoke {
                    id: g.id.clone(),
                    now_ms: now_ms(),
                    replaces: g.version,
                };
                self.store
                    .apply_gate_change(&change, event)
                    .await
                    .map_err(|e| store_error(e, &g.name))
            })
            .await
    }

    /// A gate registers its public key with its one-time token, and the X25519 key its private
    /// material is sealed to (`encryption_key`; older gates send none). Unknown tokens are
    /// refused without an audit row (anyone can send junk); a known token that is expired, used
    /// or whose gate is revoked, or a malformed key, is refused and audited against that gate,
    /// and nothing is registered.
    pub async fn enrol(
        &self,
        token: &str,
        public_key: &str,
        encryption_key: Option<&str>,
        ip: Option<String>,
    ) -> Result<Enrolled, Error> {
        let unknown = || {
            Error::invalid("this enrolment token is not valid: it was never issued, was used already, or was replaced")
        };
        if !looks_like_token(token) {
            return Err(unknown());
        }
        let hash = token_hash(token);
        let g = self
            .store
            .gate_by_token_hash(&hash)
            .await?
            .ok_or_else(unknown)?;
        let actor = Actor {
            name: format!("gate:{}", g.name),
            ip,
            user_agent: None,
        };
        let target = Target::gate(&g.id);
        self.audit
            .run(&actor, action::GATES_ENROL, &target, async {
                let key = PublicKey::from_b64(public_key).map_err(|e| {
                    Error::invalid(format!("the gate's public key is not a raw Ed25519 key in base64url: {e}"))
                })?;
                let encryption_key = encryption_key
                    .map(crate::gates::parse_encryption_key)
                    .transpose()?;
                let now = now_ms();
                if g.enrol_expires_at_ms.is_none_or(|t| t <= now) {
                    return Err(Error::invalid(format!(
                        "the enrolment token of gate {:?} expired; issue a new command on the Gates page",
                        g.name
                    )));
                }
                let signer = self.signer().await?;
                let event = Audit::success(
                    &actor,
                    action::GATES_ENROL,
                    &target,
                    json!({ "name": g.name, "key_id": key.key_id(),
                            "encryption_key": encryption_key.as_deref()
                                .map(crate::gates::encryption_key_fingerprint) }),
                );
                let change = GateChange::Enrol {
                    id: g.id.clone(),
                    token_hash: hash.clone(),
                    public_key: key.to_b64(),
                    encryption_key,
                    now_ms: now,
                };
                self.store.apply_gate_change(&change, event).await.map_err(|e| match e {
                    StoreError::Duplicate { .. } => Error::Conflict(
                        "this public key is registered for another gate already; enrol with a fresh data directory".into(),
                    ),
                    other => store_error(other, &g.name),
                })?;
                Ok(Enrolled {
                    gate_id: g.id.clone(),
                    bundle_public_key: signer.record.public_key.clone(),
                    console_id: signer.record.console_id.clone(),
                })
            })
            .await
    }

    /// Checks a gate's signed call (`Authorization: PalisadeGate …`) and returns the gate. Not
    /// audited: a gate calls every few seconds; the caller logs refusals.
    pub async fn authenticate(
        &self,
        header: &str,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<GateRecord, Error> {
        let auth = jose::gate_auth::parse(header).map_err(|_| Error::Unauthenticated)?;
        let g = self
            .store
            .gate(&auth.gate_id)
            .await?
            .ok_or(Error::Unauthenticated)?;
        if g.revoked_at_ms.is_some() {
            return Err(Error::Forbidden);
        }
        let key = g
            .public_key
            .as_deref()
            .and_then(|k| PublicKey::from_b64(k).ok())
            .ok_or(Error::Unauthenticated)?;
        if (now_ms() - auth.ts_ms).abs() > crate::gates::MAX_CLOCK_SKEW_MS {
            return Err(Error::Unauthenticated);
        }
        jose::gate_auth::verify(&auth, &key, method, path_and_query, body)
            .map_err(|_| Error::Unauthenticated)?;
        Ok(g)
    }
}
