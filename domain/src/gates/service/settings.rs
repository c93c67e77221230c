//! The gate-wide settings every bundle carries: issuer, audiences, typ, routes.

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
    /// (separated by commas or spaces) and the routes, one per line ([`policy::routes`]). The
    /// text is read inside the same audited run, so a refused line is recorded as a refusal of
    /// `gates.settings` like any other.
    pub async fn save_settings_text(
        &self,
        actor: &Actor,
        issuer: &str,
        audiences: &str,
        require_typ_at_jwt: bool,
        routes: &str,
        version: &str,
    ) -> Result<(), Error> {
        let target = Target::gate_settings();
        self.audit
            .run(actor, action::GATES_SETTINGS, &target, async {
                let settings = GateSettings {
                    issuer: crate::gates::parse_issuer(issuer)?,
                    audiences: crate::gates::parse_audiences(audiences)?,
                    require_typ_at_jwt,
                    routes: crate::gates::parse_routes(routes)?,
                    version: None,
                };
                self.put_settings(actor, settings, version).await
            })
            .await
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
        let probe = self.compose_with(&settings).await?;
        finish(probe, 1, None, now_ms())?;
        let next = replaces.map_or(Version::FIRST, Version::next);
        let record = GateSettingsRecord {
            issuer: settings.issuer.clone(),
            audiences: settings.audiences.clone(),
            require_typ_at_jwt: settings.require_typ_at_jwt,
            routes_json: serde_json::to_string(&settings.routes)
                .map_err(|e| Error::Internal(e.to_string()))?,
            version: next.get(),
            updated_at_ms: now_ms(),
        };
        let event = Audit::success(
            actor,
            action::GATES_SETTINGS,
            &target,
            json!({ "issuer": record.issuer, "audiences": record.audiences,
                    "require_typ_at_jwt": record.require_typ_at_jwt,
                    "routes": settings.routes }),
        );
        self.store
            .put_gate_settings(&record, replaces.map(Version::get), event)
            .await
            .map_err(|e| store_error(e, "settings"))
    }
}
