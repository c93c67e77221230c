//! The pin-sets service: reads and changes pin sets, lints them against the live chain, exports
//! them, and records app releases. It is the only author of pin-set, app and release changes:
//! its own edits go through [`PinsetStore::apply_pinset_changes`] with their audit event in the
//! same transaction, and the certificate service asks it for the pin-set step a certificate
//! issue or rotation carries ([`PinsetsService::put_step`]). Every write bumps the set's version
//! with an optimistic check, so two admins cannot silently overwrite each other.

use std::sync::Arc;

use chrono::{Months, NaiveDate, Utc};
use serde_json::json;

use crate::audit::{Actor, AuditDraft, Outcome};
use crate::audited::{action, Audit, Target};
use crate::pins::Pin;
use crate::pinsets::{
    blocks_export, expiry_note, lint, parse_hostname, parse_pin_input, render, AppPlatform,
    ExportFormat, Finding, KeyCustody, LintContext, PinEntry, PinRole, PinSet, ShippedRelease,
};
use crate::ports::certs::{CertChange, CertStore};
use crate::ports::pinsets::{AppRecord, PinsetChange, PinsetRecord, PinsetStore, ReleaseRecord};
use crate::ports::StoreError;
use crate::{now_ms, Error};

/// A pin set as the page shows it.
#[derive(Clone, Debug)]
pub struct PinsetState {
    pub set: PinSet,
    pub findings: Vec<Finding>,
    pub live_pins: Vec<Pin>,
    pub export_blocked: bool,
}

/// A recorded release with its app and the pins it shipped.
#[derive(Clone, Debug)]
pub struct ReleaseState {
    pub release: ReleaseRecord,
    pub app: AppRecord,
    pub pins: Vec<Pin>,
}

/// One rendered export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    pub format: String,
    pub filename: String,
    pub text: String,
    pub expiry_note: String,
    pub pinset_version: i64,
}

/// The export formats by the names the UI and URLs use.
pub fn parse_format(s: &str) -> Result<ExportFormat, Error> {
    Ok(match s {
        "android" => ExportFormat::Android,
        "ios" => ExportFormat::Ios,
        "trustkit" => ExportFormat::TrustKit,
        "trustkit_swift" => ExportFormat::TrustKitSwift,
        "okhttp" => ExportFormat::OkHttp,
        "json" => ExportFormat::Json,
        other => {
            return Err(Error::invalid(format!(
                "unknown export format {other:?}; use android, ios, trustkit, trustkit_swift, okhttp or json"
            )))
        }
    })
}

pub fn format_name(f: ExportFormat) -> &'static str {
    match f {
        ExportFormat::Android => "android",
        ExportFormat::Ios => "ios",
        ExportFormat::TrustKit => "trustkit",
        ExportFormat::TrustKitSwift => "trustkit_swift",
        ExportFormat::OkHttp => "okhttp",
        ExportFormat::Json => "json",
    }
}

/// How a release built from `format` enforces pins, in the planner's vocabulary.
fn pinning_platform(format: &str) -> &str {
    match format {
        "trustkit" | "trustkit_swift" => "trustkit",
        other => other,
    }
}

impl PinRole {
    pub fn as_str(self) -> &'static str {
        match self {
            PinRole::CurrentLeaf => "current_leaf",
            PinRole::NextKey => "next_key",
            PinRole::Intermediate => "intermediate",
            PinRole::Root => "root",
            PinRole::Backup => "backup",
        }
    }
}

impl KeyCustody {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyCustody::HeldHere => "held_here",
            KeyCustody::HeldOffline => "held_offline",
            KeyCustody::CaManaged => "ca_managed",
            KeyCustody::Unknown => "unknown",
        }
    }
}

impl crate::pinsets::Level {
    pub fn as_str(self) -> &'static str {
        match self {
            crate::pinsets::Level::Error => "error",
            crate::pinsets::Level::Warning => "warning",
        }
    }
}

/// The current and next leaf keys, both held here, in export order.
fn leaf_pins(hostname: &str, current: Pin, next: Pin) -> Vec<PinEntry> {
    let entry = |pin, what: &str, role| PinEntry {
        pin,
        label: format!("{hostname} {what} key"),
        role,
        custody: KeyCustody::HeldHere,
    };
    vec![
        entry(current, "current", PinRole::CurrentLeaf),
        entry(next, "next", PinRole::NextKey),
    ]
}

/// The first pin set of a hostname: its current key and its next key, expiring in 12 months.
pub fn initial_set(hostname: &str, current: Pin, next: Pin, today: NaiveDate) -> PinSet {
    PinSet {
        hostname: hostname.to_owned(),
        include_subdomains: false,
        expires_on: today.checked_add_months(Months::new(12)).unwrap_or(today),
        version: 1,
        pins: leaf_pins(hostname, current, next),
    }
}

/// The set after a rotation: the new current key and the new next key replace the leaf pins;
/// CA and offline pins stay. The version increases.
pub fn rotated_set(old: &PinSet, current: Pin, next: Pin) -> PinSet {
    let hostname = &old.hostname;
    let mut pins = leaf_pins(hostname, current, next);
    pins.extend(
        old.pins
            .iter()
            .filter(|p| {
                !matches!(p.role, PinRole::CurrentLeaf | PinRole::NextKey)
                    && p.pin != current
                    && p.pin != next
            })
            .cloned(),
    );
    PinSet {
        pins,
        version: old.version + 1,
        ..old.clone()
    }
}

pub fn to_record(set: &PinSet) -> Result<PinsetRecord, Error> {
    Ok(PinsetRecord {
        hostname: set.hostname.clone(),
        include_subdomains: set.include_subdomains,
        expires_on: set.expires_on.to_string(),
        version: i64::from(set.version),
        pins_json: serde_json::to_string(&set.pins).map_err(|e| Error::Internal(e.to_string()))?,
        updated_at_ms: now_ms(),
    })
}

pub fn from_record(r: &PinsetRecord) -> Result<PinSet, Error> {
    Ok(PinSet {
        hostname: r.hostname.clone(),
        include_subdomains: r.include_subdomains,
        expires_on: NaiveDate::parse_from_str(&r.expires_on, "%Y-%m-%d")
            .map_err(|e| Error::Internal(e.to_string()))?,
        version: u32::try_from(r.version).map_err(|e| Error::Internal(e.to_string()))?,
        pins: serde_json::from_str(&r.pins_json).map_err(|e| Error::Internal(e.to_string()))?,
    })
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn parse_version(v: &str) -> Result<u32, Error> {
    v.trim()
        .parse()
        .map_err(|_| Error::invalid("the pin-set version is missing; reload the page"))
}

pub struct PinsetsService {
    store: Arc<dyn PinsetStore>,
    /// Read only: the certificates a pin set is linted against.
    certs: Arc<dyn CertStore>,
    audit: Audit,
}

impl PinsetsService {
    pub fn new(store: Arc<dyn PinsetStore>, certs: Arc<dyn CertStore>, audit: Audit) -> Self {
        PinsetsService {
            store,
            certs,
            audit,
        }
    }

    /// The stored pin set of `hostname`, if any.
    pub async fn current(&self, hostname: &str) -> Result<Option<PinSet>, Error> {
        match self.store.pinset(hostname).await? {
            Some(r) => from_record(&r).map(Some),
            None => Ok(None),
        }
    }

    /// The step that writes `set` over the stored version `replaces` (`None`: a new set), for a
    /// certificate batch that moves the hostname's pins in the same transaction.
    pub fn put_step(&self, set: &PinSet, replaces: Option<u32>) -> Result<CertChange, Error> {
        Ok(CertChange::Pinset(PinsetChange::Put {
            record: to_record(set)?,
            replaces: replaces.map(i64::from),
        }))
    }

    async fn load(&self, hostname: &str) -> Result<PinSet, Error> {
        let host = parse_hostname(hostname).map_err(|e| Error::invalid(e.to_string()))?;
        let rec = self.store.pinset(&host).await?.ok_or_else(|| {
            Error::NotFound(format!(
                "no pin set for {host}: issue a certificate for it first"
            ))
        })?;
        from_record(&rec)
    }

    /// The SPKI pins the host serves now (leaf, then issuers) and whether a CA outside the
    /// console manages the leaf.
    pub async fn live_chain(&self, hostname: &str) -> Result<(Vec<Pin>, bool), Error> {
        let Some(h) = self.certs.hostname(hostname).await? else {
            return Ok((vec![], false));
        };
        let Some(cert_id) = h.current_cert_id else {
            return Ok((vec![], false));
        };
        let Some(cert) = self.certs.certificate(&cert_id).await? else {
            return Ok((vec![], false));
        };
        let pins = crate::certs::pins_in_pem(cert.chain_pem.as_bytes())
            .map(|found| found.into_iter().map(|f| f.pin).collect())
            .unwrap_or_else(|_| Pin::parse(&cert.spki_pin).into_iter().collect());
        Ok((pins, h.ca_id.is_none()))
    }

    async fn state(&self, set: PinSet) -> Result<PinsetState, Error> {
        let (live_pins, ca_managed_leaf) = self.live_chain(&set.hostname).await?;
        let whole_cert_hashes = self
            .certs
            .certificates()
            .await?
            .iter()
            .filter_map(|c| Pin::parse(&c.cert_sha256).ok())
            .collect();
        let ctx = LintContext {
            live_chain_spki_pins: live_pins.clone(),
            whole_cert_hashes,
            ca_managed_leaf,
            today: today(),
        };
        let findings = lint(&set, &ctx);
        let export_blocked = blocks_export(&findings);
        Ok(PinsetState {
            set,
            findings,
            live_pins,
            export_blocked,
        })
    }

    /// One hostname's pin set with its findings.
    pub async fn get(&self, hostname: &str) -> Result<PinsetState, Error> {
        self.state(self.load(hostname).await?).await
    }

    pub async fn list(&self) -> Result<Vec<PinsetState>, Error> {
        let mut out = Vec::new();
        for rec in self.store.pinsets().await? {
            out.push(self.state(from_record(&rec)?).await?);
        }
        Ok(out)
    }

    async fn save(
        &self,
        actor: &Actor,
        action: &str,
        before: &PinSet,
        after: PinSet,
    ) -> Result<PinsetState, Error> {
        let event = AuditDraft::new(actor, action, Target::pinset(&after.hostname).as_str(), Outcome::Success).with_details(json!({
            "before": { "version": before.version, "include_subdomains": before.include_subdomains,
                        "expires_on": before.expires_on.to_string(), "pins": before.pins.iter().map(|p| p.pin.to_base64()).collect::<Vec<_>>() },
            "after": { "version": after.version, "include_subdomains": after.include_subdomains,
                       "expires_on": after.expires_on.to_string(), "pins": after.pins.iter().map(|p| p.pin.to_base64()).collect::<Vec<_>>() },
        }));
        let change = PinsetChange::Put {
            record: to_record(&after)?,
            replaces: Some(i64::from(before.version)),
        };
        self.store.apply_pinset_changes(&[change], event).await?;
        self.state(after).await
    }

    async fn checked(&self, hostname: &str, version: &str) -> Result<PinSet, Error> {
        let set = self.load(hostname).await?;
        let expected = parse_version(version)?;
        if set.version != expected {
            return Err(Error::Conflict(format!(
                "the pin set of {} changed meanwhile (now version {}, you edited version {expected}); reload and retry",
                set.hostname, set.version
            )));
        }
        Ok(set)
    }

    /// Applies `change` to the current set (which must still be at `version`), bumps the version
    /// and saves it with its audit event; a refusal is audited too.
    async fn edit<F>(
        &self,
        actor: &Actor,
        action: &str,
        hostname: &str,
        version: &str,
        change: F,
    ) -> Result<PinsetState, Error>
    where
        F: AsyncFnOnce(&PinSet) -> Result<PinSet, Error>,
    {
        let result = async {
            let before = self.checked(hostname, version).await?;
            let mut after = change(&before).await?;
            after.version = before.version + 1;
            Ok((before, after))
        }
        .await;
        match result {
            Ok((before, after)) => self.save(actor, action, &before, after).await,
            Err(e) => Err(self
                .audit
                .refused(actor, action, &Target::pinset(hostname), e)
                .await),
        }
    }

    /// Changes the include-subdomains flag and the expiration date.
    pub async fn update(
        &self,
        actor: &Actor,
        hostname: &str,
        include_subdomains: bool,
        expires_on: &str,
        version: &str,
    ) -> Result<PinsetState, Error> {
        self.edit(
            actor,
            action::PINSETS_UPDATE,
            hostname,
            version,
            async |set: &PinSet| {
                let expires_on =
                    NaiveDate::parse_from_str(expires_on.trim(), "%Y-%m-%d").map_err(|_| {
                        Error::invalid("the expiration date must be a date (YYYY-MM-DD)")
                    })?;
                Ok(PinSet {
                    include_subdomains,
                    expires_on,
                    ..set.clone()
                })
            },
        )
        .await
    }

    /// The pin of the CA that issued `hostname`'s certificate.
    async fn ca_entry(&self, hostname: &str) -> Result<PinEntry, Error> {
        let h = self
            .certs
            .hostname(hostname)
            .await?
            .ok_or_else(|| Error::invalid("unknown hostname"))?;
        let ca_id = h.ca_id.ok_or_else(|| {
            Error::invalid(format!("{hostname} is not issued by the internal CA"))
        })?;
        let ca = self
            .certs
            .certificate(&ca_id)
            .await?
            .ok_or_else(|| Error::Internal("CA record missing".into()))?;
        let role = if ca.kind == policy::certs::CertKind::RootCa {
            PinRole::Root
        } else {
            PinRole::Intermediate
        };
        Ok(PinEntry {
            pin: Pin::parse(&ca.spki_pin).map_err(|e| Error::Internal(e.to_string()))?,
            label: format!("CA {}", ca.subject),
            role,
            custody: KeyCustody::HeldHere,
        })
    }

    /// Adds the issuing CA's key (`source = "ca"`) or an offline backup pin (`"offline"`).
    pub async fn add_pin(
        &self,
        actor: &Actor,
        hostname: &str,
        source: &str,
        pin: &str,
        label: &str,
        version: &str,
    ) -> Result<PinsetState, Error> {
        self.edit(
            actor,
            action::PINSETS_ADD_PIN,
            hostname,
            version,
            async |set: &PinSet| {
                let entry = match source {
                    "ca" => self.ca_entry(&set.hostname).await?,
                    "offline" => {
                        let label = label.trim();
                        PinEntry {
                            pin: parse_pin_input(pin).map_err(|f| Error::invalid(f.message))?,
                            label: if label.is_empty() {
                                "offline backup key".into()
                            } else {
                                label.chars().take(100).collect()
                            },
                            role: PinRole::Backup,
                            custody: KeyCustody::HeldOffline,
                        }
                    }
                    _ => return Err(Error::invalid("unknown pin source")),
                };
                if set.pins.iter().any(|p| p.pin == entry.pin) {
                    return Err(Error::Conflict(format!(
                        "{} is already in the set",
                        entry.pin
                    )));
                }
                let mut after = set.clone();
                after.pins.push(entry);
                Ok(after)
            },
        )
        .await
    }

    pub async fn remove_pin(
        &self,
        actor: &Actor,
        hostname: &str,
        pin: &str,
        version: &str,
    ) -> Result<PinsetState, Error> {
        self.edit(
            actor,
            action::PINSETS_REMOVE_PIN,
            hostname,
            version,
            async |set: &PinSet| {
                let pin = Pin::parse(pin).map_err(|e| Error::invalid(e.to_string()))?;
                if !set.pins.iter().any(|p| p.pin == pin) {
                    return Err(Error::invalid(format!("{pin} is not in the set")));
                }
                let mut after = set.clone();
                after.pins.retain(|p| p.pin != pin);
                Ok(after)
            },
        )
        .await
    }

    async fn render_checked(
        &self,
        hostname: &str,
        format: &str,
    ) -> Result<(PinSet, Export), Error> {
        let f = parse_format(format)?;
        let state = self.state(self.load(hostname).await?).await?;
        if state.export_blocked {
            let errors: Vec<String> = state
                .findings
                .iter()
                .filter(|f| f.level == crate::pinsets::Level::Error)
                .map(|f| f.message.clone())
                .collect();
            return Err(Error::invalid(format!(
                "Export refused until the linter passes: {}",
                errors.join("; ")
            )));
        }
        let export = Export {
            format: format_name(f).to_owned(),
            filename: f.file_name().to_owned(),
            text: render(f, &state.set),
            expiry_note: expiry_note(f).to_owned(),
            pinset_version: i64::from(state.set.version),
        };
        Ok((state.set, export))
    }

    /// The set in `format`; refused while the linter reports an error.
    pub async fn export(&self, hostname: &str, format: &str) -> Result<Export, Error> {
        self.render_checked(hostname, format).await.map(|(_, e)| e)
    }

    /// Exports for an app release and records the release (and the app, if new) with the exact
    /// set shipped.
    #[allow(clippy::too_many_arguments)]
    pub async fn export_for_release(
        &self,
        actor: &Actor,
        hostname: &str,
        format: &str,
        app_name: &str,
        platform: AppPlatform,
        bundle_id: &str,
        version: &str,
        released_on: &str,
    ) -> Result<Export, Error> {
        let action = action::PINSETS_EXPORT_FOR_RELEASE;
        let result = async {
            let (set, export) = self.render_checked(hostname, format).await?;
            let app_name = app_name.trim();
            let bundle_id = bundle_id.trim();
            let version = version.trim();
            if app_name.is_empty()
                || app_name.chars().count() > 100
                || app_name.chars().any(char::is_control)
            {
                return Err(Error::invalid(
                    "App name must be 1 to 100 characters, none of them control characters.",
                ));
            }
            let id_ok = bundle_id.len() >= 3
                && bundle_id.len() <= 155
                && bundle_id.contains('.')
                && bundle_id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !id_ok {
                return Err(Error::invalid("Bundle id / package name must look like com.example.app (letters, digits, '.', '_', '-')."));
            }
            if version.is_empty() || version.len() > 50 || version.chars().any(char::is_control) {
                return Err(Error::invalid("App version must be 1 to 50 characters."));
            }
            let released_on = NaiveDate::parse_from_str(released_on.trim(), "%Y-%m-%d")
                .map_err(|_| Error::invalid("Release date must be a date (YYYY-MM-DD)."))?;
            let now = now_ms();
            let existing = self.store.app(platform, bundle_id).await?;
            let mut changes = Vec::new();
            let app = match existing {
                Some(a) => a,
                None => {
                    let a = AppRecord {
                        id: uuid::Uuid::new_v4().to_string(),
                        name: app_name.to_owned(),
                        platform,
                        bundle_id: bundle_id.to_owned(),
                        created_at_ms: now,
                    };
                    changes.push(PinsetChange::InsertApp(a.clone()));
                    a
                }
            };
            let release = ReleaseRecord {
                id: uuid::Uuid::new_v4().to_string(),
                app_id: app.id.clone(),
                version: version.to_owned(),
                released_on: released_on.to_string(),
                hostname: set.hostname.clone(),
                pinset_version: i64::from(set.version),
                pinset_json: serde_json::to_string(&set).map_err(|e| Error::Internal(e.to_string()))?,
                export_format: export.format.clone(),
                supported: true,
                created_at_ms: now,
            };
            changes.push(PinsetChange::InsertRelease(release.clone()));
            let event = AuditDraft::new(actor, action, Target::pinset(&set.hostname).as_str(), Outcome::Success).with_details(json!({
                "app": app.name, "platform": app.platform, "bundle_id": app.bundle_id, "version": release.version,
                "format": export.format, "pinset_version": set.version,
                "pins": set.pins.iter().map(|p| p.pin.to_base64()).collect::<Vec<_>>(),
            }));
            self.store.apply_pinset_changes(&changes, event).await.map_err(|e| match e {
                StoreError::Duplicate { .. } | StoreError::Conflict(_) => Error::Conflict(format!(
                    "{} {} already has a recorded release for {}",
                    app.name, release.version, set.hostname
                )),
                other => Error::Store(other),
            })?;
            Ok(export)
        }
        .await;
        match result {
            Ok(e) => Ok(e),
            Err(e) => Err(self
                .audit
                .refused(actor, action, &Target::pinset(hostname), e)
                .await),
        }
    }

    pub async fn releases(&self) -> Result<Vec<ReleaseState>, Error> {
        let apps = self.store.apps().await?;
        let mut out = Vec::new();
        for release in self.store.releases().await? {
            let Some(app) = apps.iter().find(|a| a.id == release.app_id).cloned() else {
                continue;
            };
            let pins = serde_json::from_str::<PinSet>(&release.pinset_json)
                .map(|s| s.pins.iter().map(|p| p.pin).collect())
                .unwrap_or_default();
            out.push(ReleaseState { release, app, pins });
        }
        Ok(out)
    }

    /// Every recorded release of `hostname` in the planner's terms.
    pub async fn shipped(&self, hostname: &str) -> Result<Vec<ShippedRelease>, Error> {
        Ok(self
            .releases()
            .await?
            .into_iter()
            .filter(|r| r.release.hostname == hostname)
            .filter_map(|r| {
                let set: PinSet = serde_json::from_str(&r.release.pinset_json).ok()?;
                Some(ShippedRelease {
                    app: r.app.name.clone(),
                    platform: pinning_platform(&r.release.export_format).to_owned(),
                    version: r.release.version.clone(),
                    pinset_version: set.version,
                    pins: set.pins.iter().map(|p| p.pin).collect(),
                    include_subdomains: set.include_subdomains,
                    expires_on: Some(set.expires_on),
                    supported: r.release.supported,
                })
            })
            .collect())
    }

    pub async fn set_supported(
        &self,
        actor: &Actor,
        id: &str,
        supported: bool,
    ) -> Result<(), Error> {
        let releases = self.releases().await?;
        let Some(r) = releases.iter().find(|r| r.release.id == id) else {
            return Err(self
                .audit
                .refused(
                    actor,
                    action::RELEASES_SET_SUPPORTED,
                    &Target::release(id),
                    Error::NotFound("unknown release".into()),
                )
                .await);
        };
        let event = Audit::success(
            actor,
            action::RELEASES_SET_SUPPORTED,
            &Target::release(id),
            json!({ "app": r.app.name, "version": r.release.version,
                    "before": r.release.supported, "after": supported }),
        );
        self.store
            .apply_pinset_changes(
                &[PinsetChange::SetReleaseSupported {
                    id: id.to_owned(),
                    supported,
                }],
                event,
            )
            .await
            .map_err(Error::Store)
    }
}
