//! The gate-wide settings every bundle carries: issuer, audiences, typ, routes, and the key set
//! whose active key signs the access tokens gates issue.

use super::*;

impl GatesService {
    /// The gate-wide settings, or the defaults while none are saved.
    pub async fn settings(&self) -> Result<GateSettings, Error> {
        match self.store.gate_settings().await? {
            Some(r) => GateSettings::of_record(&r),
            None => Ok(GateSettings::defaults(&self.public_url)),
        }
    }

    /// Saves the gate-wide settings (`version` as shown; "" while the defaults apply) after
    /// checking that a bundle built with them would be accepted by the gates.
    pub async fn save_settings(
        &self,
        actor: &Actor,
        settings: GateSettings,
        version: &str,
    ) -> Result<(), Error> {
        let target = Target::gate_settings();
        self.audit
            .run(
                actor,
                action::GATES_SETTINGS,
                &target,
                self.put_settings(actor, settings, version),
            )
            .await
    }

    /// [`Self::save_settings`] from the settings form's text: the issuer, the audiences
    /// (separated by commas or spaces), the routes, one per line ([`policy::routes`]), and the
    /// name of the key set that signs the gates' tokens ("": gates issue none). The text is
    /// read inside the same audited run, so a refused line or an unknown key set is recorded as
    /// a refusal of `gates.settings` like any other.
    #[allow(clippy::too_many_arguments)]
    pub async fn save_settings_text(
        &self,
        actor: &Actor,
        issuer: &str,
        audiences: &str,
        require_typ_at_jwt: bool,
        routes: &str,
        token_key_set: &str,
        tls_hostname: &str,
        version: &str,
    ) -> Result<(), Error> {
        let target = Target::gate_settings();
        self.audit
            .run(actor, action::GATES_SETTINGS, &target, async {
                let tls_hostname = match tls_hostname.trim() {
                    "" => None,
                    h => Some(h.to_ascii_lowercase()),
                };
                let settings = GateSettings {
                    issuer: crate::gates::parse_issuer(issuer)?,
                    audiences: crate::gates::parse_audiences(audiences)?,
                    require_typ_at_jwt,
                    routes: crate::gates::parse_routes(routes)?,
                    token_key_set_id: self.token_key_set_named(token_key_set).await?,
                    tls_hostname,
                    version: None,
                };
                self.put_settings(actor, settings, version).await
            })
            .await
    }

    /// The id of the key set named `name` ("": none), or the refusal naming the sets there are.
    async fn token_key_set_named(&self, name: &str) -> Result<Option<String>, Error> {
        let name = name.trim();
        if name.is_empty() {
            return Ok(None);
        }
        let sets = self.keys.key_sets().await?;
        match sets.iter().find(|s| s.name == name) {
            Some(s) => Ok(Some(s.id.clone())),
            None => Err(Error::invalid(format!(
                "there is no key set named {:?} to sign the gates' tokens; choose one of: {} \
                 (or none: gates issue no tokens)",
                jose::truncate(name),
                if sets.is_empty() {
                    "none exists yet, create one on the Keys page".to_owned()
                } else {
                    sets.iter()
                        .map(|s| format!("{:?}", s.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ))),
        }
    }

    /// The name of the key set that signs the gates' tokens, if one is chosen and exists.
    pub async fn token_key_set_name(&self) -> Result<Option<String>, Error> {
        let Some(id) = self.settings().await?.token_key_set_id else {
            return Ok(None);
        };
        Ok(self.keys.key_set(&id).await?.map(|s| s.name))
    }

    /// The hostnames that have a current certificate whose key the console holds: the choices
    /// of the certificate gates serve.
    pub async fn servable_hostnames(&self) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for h in self.certs.hostnames().await? {
            if self.served_certificate(&h.hostname).await.is_ok() {
                out.push(h.hostname);
            }
        }
        Ok(out)
    }

    /// The names of every key set, for the choice of the one that signs the gates' tokens.
    pub async fn key_set_names(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .keys
            .key_sets()
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect())
    }

    /// The work of [`Self::save_settings`], not audited when refused (its callers are).
    pub(super) async fn put_settings(
        &self,
        actor: &Actor,
        settings: GateSettings,
        version: &str,
    ) -> Result<(), Error> {
        let target = Target::gate_settings();
        let current = self.settings().await?;
        let replaces = match version.trim() {
            "" => None,
            v => Some(Version::parse(v, "gate settings")?),
        };
        if current.version != replaces.map(Version::get) {
            return Err(Error::Conflict(
                "the gate settings were changed by someone else meanwhile; reload and retry".into(),
            ));
        }
        let token_key_set = match &settings.token_key_set_id {
            None => None,
            Some(id) => Some(
                self.keys
                    .key_set(id)
                    .await?
                    .ok_or_else(|| {
                        Error::invalid(
                            "the key set chosen to sign the gates' tokens does not exist; reload \
                             and choose another",
                        )
                    })?
                    .name,
            ),
        };
        let probe = self.compose_with(&settings).await?;
        finish(probe, 1, None, now_ms())?;
        let next = replaces.map_or(Version::FIRST, Version::next);
        let record = GateSettingsRecord {
            issuer: settings.issuer.clone(),
            audiences: settings.audiences.clone(),
            require_typ_at_jwt: settings.require_typ_at_jwt,
            routes_json: serde_json::to_string(&settings.routes)
                .map_err(|e| Error::Internal(e.to_string()))?,
            token_key_set_id: settings.token_key_set_id.clone(),
            tls_hostname: settings.tls_hostname.clone(),
            version: next.get(),
            updated_at_ms: now_ms(),
        };
        let event = Audit::success(
            actor,
            action::GATES_SETTINGS,
            &target,
            json!({ "issuer": record.issuer, "audiences": record.audiences,
                    "require_typ_at_jwt": record.require_typ_at_jwt,
                    "routes": settings.routes, "token_key_set": token_key_set,
                    "tls_hostname": record.tls_hostname }),
        );
        self.store
            .put_gate_settings(&record, replaces.map(Version::get), event)
            .await
            .map_err(|e| store_error(e, "settings"))
    }
}
