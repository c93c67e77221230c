//! `/gates`: the fleet. Add a gate (its one-time enrolment command is shown once), see every
//! gate's state against the latest bundle version converge live (the page refreshes every
//! second), NACKs as alerts, "push now", revoke, the bundle history with a diff between any
//! two versions, and the gate-wide settings (issuer, audiences, routes, the key set that signs
//! the tokens gates issue) with the routes checked line by line as they are typed. A gate that
//! cannot receive the token signing key (it registered no encryption key) says so.

use leptos::prelude::*;
use leptos_meta::Title;
use policy::access::{Permission, Role};
use policy::gates::GateState;

use crate::api::gates::{
    diff_bundles, gate_settings, list_gates, AddGate, EnrolCommand, FleetInfo, GateInfo,
    GateSettingsView, NewGateToken, PushGatesNow, RevokeGate, SaveGateSettings,
};
use crate::components::access::{Can, Me};
use crate::components::forms::{action_result, copy_to_clipboard};
use crate::components::passkey::confirm_then;
use crate::components::time::{relative, utc};

/// How often the page asks for the fleet's state.
const REFRESH_MS: u64 = 1000;

fn state_class(s: GateState) -> &'static str {
    match s {
        GateState::InSync => "badge gate-in-sync",
        GateState::Behind | GateState::Pending => "badge gate-behind",
        GateState::Refusing | GateState::EnrolmentExpired => "badge gate-refusing",
        GateState::Revoked => "badge gate-revoked",
    }
}

/// "3 of 4 enrolled gates run version 12".
pub fn convergence(f: &FleetInfo) -> String {
    let enrolled: Vec<&GateInfo> = f.gates.iter().filter(|g| g.state.is_enrolled()).collect();
    let waiting = f
        .gates
        .iter()
        .filter(|g| matches!(g.state, GateState::Pending | GateState::EnrolmentExpired))
        .count();
    match &f.latest {
        None if f.gates.is_empty() => "No gate yet.".into(),
        None => "No bundle published yet.".into(),
        Some(l) if enrolled.is_empty() => format!(
            "No gate enrolled yet ({waiting} waiting for enrolment); the latest version is {}.",
            l.version
        ),
        Some(l) => format!(
            "{} of {} enrolled gate{} run{} the latest version, {}.",
            enrolled
                .iter()
                .filter(|g| g.state == GateState::InSync)
                .count(),
            enrolled.len(),
            if enrolled.len() == 1 { "" } else { "s" },
            if enrolled.len() == 1 { "s" } else { "" },
            l.version
        ),
    }
}

#[component]
pub fn GatesPage() -> impl IntoView {
    let add = ServerAction::<AddGate>::new();
    let token = ServerAction::<NewGateToken>::new();
    let revoke = ServerAction::<RevokeGate>::new();
    let push = ServerAction::<PushGatesNow>::new();
    let step_error = RwSignal::new(None::<String>);
    // What the signed-in role may change, awaited with the fleet: a `Can` inside the suspended
    // view would add suspense boundaries whose order on the server depends on which load
    // finishes first, and hydration fails when it differs from the browser's.
    let me = use_context::<Me>();
    // A failed passkey confirmation of "Add gate", shown with the form.
    let add_error = RwSignal::new(None::<String>);
    let tick = RwSignal::new(0u64);
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || tick.update(|t| *t += 1),
            std::time::Duration::from_millis(REFRESH_MS),
        )
        .ok();
        on_cleanup(move || {
            if let Some(h) = handle {
                h.clear();
            }
        });
    });
    let data = Resource::new(
        move || {
            (
                tick.get(),
                add.version().get(),
                token.version().get(),
                revoke.version().get(),
            )
        },
        |_| list_gates(),
    );
    let shown = RwSignal::new(None::<EnrolCommand>);
    Effect::new(move |_| {
        if let Some(Ok(c)) = add.value().get() {
            shown.set(Some(c));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(c)) = token.value().get() {
            shown.set(Some(c));
        }
    });
    let name = RwSignal::new(String::new());
    let labels = RwSignal::new(String::new());
    let push_url = RwSignal::new(String::new());
    // Added: the form is emptied for the next gate (the command panel shows the one just added).
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            name.set(String::new());
            labels.set(String::new());
            push_url.set(String::new());
        }
    });
    let on_add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let args = AddGate {
            name: name.get_untracked(),
            labels: labels.get_untracked(),
            push_url: push_url.get_untracked(),
        };
        confirm_then(add_error, move || {
            add.dispatch(args);
        });
    };

    view! {
        <Title text="Gates · Palisade"/>
        <h1>"Gates"</h1>
        <p class="lead">
            "The enforcement services in front of your API. Every change that affects enforcement (policies, clients, "
            "signing keys) becomes a new signed bundle version within a second; the console pushes it to every gate "
            "and gates also pull it, so one that missed a push converges. A gate that refuses a bundle keeps "
            "enforcing the version it has and says why here."
        </p>
        {move || step_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        {action_result(revoke, |_| "Gate revoked: its calls are refused from now on.".to_owned())}
        {move || shown.get().map(|c| view! { <EnrolPanel command=c shown=shown/> })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let role = match me { Some(Me(r)) => r.await.ok().map(|a| a.role), None => None };
                match data.await {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(f) => view! { <Fleet fleet=f token=token revoke=revoke push=push step_error=step_error role=role/> }.into_any(),
                }
            })}
        </Transition>
        <Can p=Permission::GatesManage>
        <section class="card" aria-labelledby="add-gate-h">
            <h2 id="add-gate-h">"Add gate"</h2>
            <p>"The console creates a one-time enrolment token (valid one hour) and shows the command to run on the gate's machine once. "
                "Adding a gate needs your passkey: a prompt appears when you press Add gate."</p>
            <form on:submit=on_add>
                <div class="inline-form">
                    <div class="field"><label for="g-name">"Gate name"</label>
                        <input id="g-name" type="text" required placeholder="edge-eu-1" bind:value=name/></div>
                    <div class="field"><label for="g-labels">"Labels (optional)"</label>
                        <input id="g-labels" type="text" placeholder="region=eu, canary" bind:value=labels/></div>
                    <div class="field"><label for="g-push">"Push URL (the gate's admin listener; empty: pull only)"</label>
                        <input id="g-push" type="text" inputmode="url" placeholder="http://10.0.0.5:9090" bind:value=push_url/></div>
                </div>
                <button type="submit" disabled=move || add.pending().get()>"Add gate"</button>
                {move || add_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                {move || add.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
            </form>
        </section>
        </Can>
        <GateSettingsCard/>
    }
}

/// The gate-wide settings. Loaded by their own resource, reloaded only after a successful save:
/// the fleet's refresh every second never resets what the admin is typing, and a refused save
/// keeps it for correction.
#[component]
fn GateSettingsCard() -> impl IntoView {
    let save = ServerAction::<SaveGateSettings>::new();
    let saved = RwSignal::new(0u64);
    Effect::new(move |_| {
        if let Some(Ok(())) = save.value().get() {
            saved.update(|n| *n += 1);
        }
    });
    let settings = Resource::new(move || saved.get(), |_| gate_settings());
    let me = use_context::<Me>();
    view! {
        <section class="card" aria-labelledby="gate-settings-h">
            <h2 id="gate-settings-h">"Gate settings"</h2>
            <p>"What every gate checks, whatever the policies: which access tokens it accepts and which routes need one. Gates receive a change in the next bundle version."</p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    // Roles that may not change the settings see them read-only.
                    let may_change = match me { Some(Me(r)) => r.await.is_ok_and(|a| a.role.allows(Permission::GatesManage)), None => false };
                    match settings.await {
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(s) => view! { <GateSettingsForm settings=s save=save may_change=may_change/> }.into_any(),
                    }
                })}
            </Transition>
            {action_result(save, |_| "Gate settings saved: gates receive them in the next bundle version.".to_owned())}
        </section>
    }
}

/// Errors the whole bundle check would raise about the settings (as `policy::bundle`'s
/// `validate_bundle`), shown before saving: a bearer route needs an issuer and an audience.
fn token_issues(
    issuer: &str,
    audiences: &str,
    routes: &[(usize, policy::bundle::Route)],
) -> Vec<String> {
    let bearer = routes
        .iter()
        .find(|(_, r)| matches!(r.auth, policy::bundle::RouteAuth::Bearer { .. }))
        .map(|(n, _)| *n);
    let Some(line) = bearer else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if issuer.trim().is_empty() {
        out.push(format!(
            "The route on line {line} requires a bearer token: give the issuer whose tokens \
             gates accept."
        ));
    }
    if audiences.split([',', ' ', '\n', '\t']).all(str::is_empty) {
        out.push(format!(
            "The route on line {line} requires a bearer token: give at least one audience."
        ));
    }
    out
}

#[component]
fn GateSettingsForm(
    settings: GateSettingsView,
    save: ServerAction<SaveGateSettings>,
    /// Whether the signed-in role may change the settings (`gates:manage`); otherwise they are
    /// shown read-only.
    may_change: bool,
) -> impl IntoView {
    let issuer = RwSignal::new(settings.issuer);
    let audiences = RwSignal::new(settings.audiences);
    let require_typ = RwSignal::new(settings.require_typ_at_jwt);
    let routes = RwSignal::new(settings.routes);
    let token_key_set = RwSignal::new(settings.token_key_set);
    let key_sets = settings.key_sets;
    let tls_hostname = RwSignal::new(settings.tls_hostname);
    let tls_hostnames = settings.tls_hostnames;
    let version = settings.version;
    let read = Memo::new(move |_| policy::routes::read_route_lines(&routes.get()));
    let token =
        Memo::new(move |_| read.with(|r| token_issues(&issuer.get(), &audiences.get(), &r.routes)));
    let blocked = move || read.with(|r| !r.errors.is_empty()) || token.with(|t| !t.is_empty());
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !may_change || blocked() {
            return;
        }
        save.dispatch(SaveGateSettings {
            issuer: issuer.get_untracked(),
            audiences: audiences.get_untracked(),
            require_typ_at_jwt: require_typ.get_untracked(),
            routes: routes.get_untracked(),
            token_key_set: token_key_set.get_untracked(),
            tls_hostname: tls_hostname.get_untracked(),
            version: version.clone(),
        });
    };
    view! {
        <form class="gate-settings" on:submit=on_submit aria-label="Gate settings">
            <div class="inline-form">
                <div class="field grow"><label for="gs-issuer">"Issuer (exact iss accepted)"</label>
                    <input id="gs-issuer" type="text" inputmode="url" spellcheck="false" placeholder="https://id.example.com" readonly=!may_change bind:value=issuer/></div>
                <div class="field grow"><label for="gs-audiences">"Audiences (aud; comma-separated)"</label>
                    <input id="gs-audiences" type="text" spellcheck="false" placeholder="https://api.example.com, orders-api"
                        aria-describedby="gs-token-issues" readonly=!may_change bind:value=audiences/></div>
            </div>
            <ul class="findings" id="gs-token-issues" aria-label="Token findings">
                {move || token.get().into_iter().map(|m| view! { <li class="finding error" role="alert">{"Error: "}{m}</li> }).collect_view()}
            </ul>
            <div class="field checkbox">
                <input id="gs-typ" type="checkbox" disabled=!may_change bind:checked=require_typ/>
                <label for="gs-typ">"Require typ at+jwt (RFC 9068)"</label>
            </div>
            <div class="field"><label for="gs-token-key-set">"Token endpoint: signs with key set"</label>
                <select id="gs-token-key-set" disabled=!may_change aria-describedby="gs-token-key-set-help"
                    prop:value=move || token_key_set.get()
                    on:change=move |ev| token_key_set.set(event_target_value(&ev))>
                    <option value="" selected=token_key_set.get_untracked().is_empty()>"none (gates issue no tokens)"</option>
                    {key_sets.into_iter().map(|name| {
                        let selected = token_key_set.get_untracked() == name;
                        view! { <option value=name.clone() selected=selected>{name.clone()}</option> }
                    }).collect_view()}
                </select>
                <p class="help" id="gs-token-key-set-help">"Gates answer "<code>"POST /oauth/token"</code>" (client_credentials) with access tokens signed by this set's active key, valid for the client's token lifetime capped by the set's longest token lifetime. Each gate receives the private key sealed to its own encryption key; it never travels in clear. With none, gates issue no tokens."</p></div>
            <div class="field"><label for="gs-tls-hostname">"HTTPS: gates serve the certificate of"</label>
                <select id="gs-tls-hostname" disabled=!may_change aria-describedby="gs-tls-hostname-help"
                    prop:value=move || tls_hostname.get()
                    on:change=move |ev| tls_hostname.set(event_target_value(&ev))>
                    <option value="" selected=tls_hostname.get_untracked().is_empty()>"none (gates serve no HTTPS)"</option>
                    {tls_hostnames.into_iter().map(|name| {
                        let selected = tls_hostname.get_untracked() == name;
                        view! { <option value=name.clone() selected=selected>{name.clone()}</option> }
                    }).collect_view()}
                </select>
                <p class="help" id="gs-tls-hostname-help">"Gates started with "<code>"--tls-listen"</code>" serve this hostname's current certificate. Each gate receives the chain and private key sealed to its own encryption key; a rotation on the Certificates page reaches every gate as a new bundle version, without dropping a connection. Only hostnames with a current certificate whose key the console holds are listed."</p></div>
            <div class="field"><label for="gs-routes">"Routes (one per line; first match wins; no match is a 404)"</label>
                <textarea id="gs-routes" rows="6" spellcheck="false" autocomplete="off" readonly=!may_change
                    aria-describedby="gs-routes-help gs-routes-issues" aria-invalid=move || if read.with(|r| r.errors.is_empty()) { "false" } else { "true" }
                    bind:value=routes></textarea></div>
            <div class="help" id="gs-routes-help">
                <p>"Each line: "<code>"prefix|exact|pattern <path> [METHODS | *] none|bearer [scopes]"</code>
                    ". Methods and scopes are comma-separated; no methods or "<code>"*"</code>" is any method; "
                    <code>"bearer"</code>" requires a valid access token holding every scope listed. In a pattern "
                    <code>"*"</code>" is one segment and a final "<code>"/**"</code>" the rest. A line starting with "<code>"#"</code>" is a comment."</p>
                <p>"For example: "<code>"prefix /public GET none"</code>", "<code>"exact /health * none"</code>", "
                    <code>"pattern /users/*/orders GET bearer orders:read"</code>", "<code>"prefix /api * bearer read:items"</code>"."</p>
            </div>
            <ul class="findings" id="gs-routes-issues" aria-label="Route findings">
                {move || read.with(|r| {
                    let errors = r.errors.iter().map(|i| view! { <li class="finding error" role="alert">{"Error: "}{i.to_string()}</li> });
                    let warnings = r.warnings.iter().map(|i| view! { <li class="finding warning" role="status">{"Warning: "}{i.to_string()}</li> });
                    errors.chain(warnings).collect_view()
                })}
            </ul>
            {if may_change {
                view! {
                    <button type="submit" disabled=move || blocked() || save.pending().get()>"Save gate settings"</button>
                }.into_any()
            } else {
                view! { <p class="help">"Your role can read these settings but not change them."</p> }.into_any()
            }}
        </form>
    }
}

/// The one place an enrolment command is ever shown.
#[component]
fn EnrolPanel(command: EnrolCommand, shown: RwSignal<Option<EnrolCommand>>) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let text = command.command.clone();
    view! {
        <section class="card secret-panel" role="region" aria-labelledby="enrol-h">
            <h2 id="enrol-h">{format!("Enrol {}", command.name)}</h2>
            <p class="warn">{format!(
                "Run this on the gate's machine before {} (one hour). It works once; it is shown only now and the console keeps only a hash of the token.",
                utc(command.expires_at_ms)
            )}</p>
            <div class="field"><label for="enrol-command">"Enrolment command (shown once)"</label>
                <textarea id="enrol-command" readonly rows="3" spellcheck="false">{command.command.clone()}</textarea></div>
            <p>"Then start it in front of your API: "<code>"palisade-gate serve --upstream http://127.0.0.1:8000 --listen 0.0.0.0:8080 --admin-listen <push address> --data-dir /var/lib/palisade-gate"</code></p>
            <button type="button" on:click=move |_| copied.set(Some(copy_to_clipboard(&text)))>"Copy command"</button>
            {move || copied.get().map(|ok| if ok {
                view! { <span class="ok" role="status">" Copied to the clipboard."</span> }.into_any()
            } else {
                view! { <span class="error" role="alert">" This browser gives no clipboard access here: select the command and copy it."</span> }.into_any()
            })}
            <button type="button" class="secondary" on:click=move |_| shown.set(None)>"I have run it, hide it"</button>
        </section>
    }
}

#[component]
fn Fleet(
    fleet: FleetInfo,
    token: ServerAction<NewGateToken>,
    revoke: ServerAction<RevokeGate>,
    push: ServerAction<PushGatesNow>,
    step_error: RwSignal<Option<String>>,
    /// The signed-in admin's role (`None`: unknown), for what the fleet view offers to change.
    role: Option<Role>,
) -> impl IntoView {
    let may = move |p: Permission| role.is_some_and(|r| r.allows(p));
    let now = fleet.now_ms;
    let latest = fleet.latest.as_ref().map(|l| l.version);
    let summary = convergence(&fleet);
    let history = fleet.history.clone();
    let token_key_set = fleet.token_key_set.clone();
    view! {
        <section class="card" aria-labelledby="fleet-h">
            <h2 id="fleet-h">"Fleet"</h2>
            <p role="status" aria-label="Convergence">{summary}</p>
            {fleet.latest.clone().map(|l| view! {
                <p>{format!("Latest bundle: version {}, published {} ({}) by {}.", l.version, utc(l.issued_at_ms), relative(l.issued_at_ms, now), l.cause)}</p>
            })}
            {fleet.publish_error.clone().map(|e| view! { <p class="error" role="alert">{format!("The current configuration is not published: {e}")}</p> })}
            <p aria-label="Token endpoint">{match &fleet.token_key_set {
                Some(name) => format!("Token endpoint: gates issue access tokens signed by the active key of key set {name:?}; each gate receives that key sealed to its own encryption key."),
                None => "Token endpoint: off (no key set chosen in the gate settings below); gates issue no tokens.".to_owned(),
            }}</p>
            {may(Permission::GatesPush).then(|| view! {
                <button type="button" class="secondary" disabled=move || push.pending().get()
                    on:click=move |_| { push.dispatch(PushGatesNow {}); }>"Push now"</button>
                {action_result(push, |_| "Pushing the latest version to every gate behind.".to_owned())}
            })}
            {if fleet.gates.is_empty() {
                view! { <p>"No gate yet."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap"><table aria-label="Gates">
                        <thead><tr><th>"Gate"</th><th>"Labels"</th><th>"State"</th><th>"Runs version"</th><th>"Last seen"</th><th>"Push URL"</th><th>"Actions"</th></tr></thead>
                        <tbody>
                            {fleet.gates.into_iter().map(|g| view! { <GateRow gate=g latest=latest now=now token_key_set=token_key_set.clone() token=token revoke=revoke step_error=step_error may_manage=may(Permission::GatesManage)/> }).collect_view()}
                        </tbody>
                    </table></div>
                    {may(Permission::GatesManage).then(|| view! {
                        <p class="help">"A new enrolment command and a revoke need your passkey: a prompt appears when you press the button."</p>
                    })}
                }.into_any()
            }}
        </section>
        <History history=history/>
    }
}

#[component]
fn GateRow(
    gate: GateInfo,
    latest: Option<i64>,
    now: i64,
    /// The key set that signs the gates' tokens, if gates issue tokens.
    token_key_set: Option<String>,
    token: ServerAction<NewGateToken>,
    revoke: ServerAction<RevokeGate>,
    step_error: RwSignal<Option<String>>,
    /// Whether the signed-in role holds `gates:manage` (new enrolment command, revoke).
    may_manage: bool,
) -> impl IntoView {
    let g = gate;
    let runs = match (g.applied_version, latest) {
        (Some(a), Some(l)) if a < l => format!("{a} (latest {l})"),
        (Some(a), _) => a.to_string(),
        (None, _) => "none yet".into(),
    };
    let seen = g
        .last_seen_ms
        .map(|t| relative(t, now))
        .unwrap_or_else(|| "never".into());
    let pending = matches!(g.state, GateState::Pending | GateState::EnrolmentExpired);
    let live = g.state != GateState::Revoked;
    let (id1, v1, id2, v2, n2) = (
        g.id.clone(),
        g.version.to_string(),
        g.id.clone(),
        g.version.to_string(),
        g.name.clone(),
    );
    let nack = g.last_error.clone().map(|e| {
        let at = g.last_error_at_ms.map(utc).unwrap_or_default();
        view! {
            <tr class="nack"><td colspan="7"><p class="error" role="alert">{format!("{} refused a bundle ({at}): {e}. It keeps enforcing version {}.", g.name, g.applied_version.map(|v| v.to_string()).unwrap_or_else(|| "none".into()))}</p></td></tr>
        }
    });
    // Gates issue tokens, but this one registered no encryption key: its signing key cannot be
    // sealed to it, so it receives bundles without it and answers no token request.
    let no_key = (token_key_set.is_some() && g.state.is_enrolled() && g.encryption_key.is_none())
        .then(|| {
            view! {
                <tr class="nack"><td colspan="7"><p class="warn" role="status">{format!(
                    "{} cannot receive signing keys: it registered no encryption key, so it issues no tokens. Re-enrol or upgrade it.",
                    g.name
                )}</p></td></tr>
            }
        });
    view! {
        <tr id=crate::pages::anchor("gate", &g.id)>
            <td>{g.name.clone()}</td>
            <td>{if g.labels.is_empty() { "—".to_owned() } else { g.labels.join(", ") }}</td>
            <td><span class=state_class(g.state)>{g.state.label()}</span></td>
            <td>{runs}</td>
            <td>{seen}</td>
            <td>{if g.push_url.is_empty() { "pull only".to_owned() } else { g.push_url.clone() }}</td>
            <td>
                {(pending && may_manage).then(|| view! {
                    <button type="button" class="secondary small" on:click=move |_| {
                        let args = NewGateToken { id: id1.clone(), version: v1.clone() };
                        confirm_then(step_error, move || { token.dispatch(args); });
                    }>{format!("New enrolment command for {}", g.name)}</button>
                })}
                {(live && may_manage).then(|| view! {
                    <button type="button" class="danger small" on:click=move |_| {
                        let message = format!("Revoke gate {n2}? Its calls to the console are refused from now on and no bundle is pushed to it; it keeps enforcing the last bundle it has until it is stopped. Your passkey confirms it next.");
                        if crate::components::forms::confirm(&message) {
                            let args = RevokeGate { id: id2.clone(), version: v2.clone() };
                            confirm_then(step_error, move || { revoke.dispatch(args); });
                        }
                    }>{format!("Revoke {}", g.name)}</button>
                })}
            </td>
        </tr>
        {nack}
        {no_key}
    }
}

#[component]
fn History(history: Vec<crate::api::gates::BundleInfo>) -> impl IntoView {
    let versions: Vec<i64> = history.iter().map(|b| b.version).collect();
    let newest = versions.first().copied().unwrap_or(0);
    let from = RwSignal::new(versions.get(1).copied().unwrap_or(newest).to_string());
    let to = RwSignal::new(newest.to_string());
    let diff = Action::new(move |(a, b): &(i64, i64)| diff_bundles(*a, *b));
    let options = move |vs: Vec<i64>| {
        vs.into_iter()
            .map(|v| view! { <option value=v.to_string()>{format!("version {v}")}</option> })
            .collect_view()
    };
    let (vs1, vs2) = (versions.clone(), versions.clone());
    view! {
        <section class="card" aria-labelledby="history-h">
            <h2 id="history-h">"Bundle history"</h2>
            {if history.is_empty() {
                view! { <p>"Nothing published yet: the first version is published once a gate is added."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap"><table aria-label="Bundle versions">
                        <thead><tr><th>"Version"</th><th>"Published"</th><th>"Caused by"</th><th>"Size"</th><th>"What changed"</th></tr></thead>
                        <tbody>
                            {history.into_iter().map(|b| view! {
                                <tr>
                                    <td>{b.version}</td>
                                    <td>{utc(b.issued_at_ms)}</td>
                                    <td>{b.cause.clone()}</td>
                                    <td>{format!("{} B", b.size)}</td>
                                    <td><ul class="changes">{b.changes.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}</ul></td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table></div>
                    <form class="inline-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
                        ev.prevent_default();
                        if let (Ok(a), Ok(b)) = (from.get_untracked().parse(), to.get_untracked().parse()) {
                            diff.dispatch((a, b));
                        }
                    }>
                        <div class="field"><label for="diff-from">"Compare version"</label>
                            <select id="diff-from" bind:value=from>{options(vs1)}</select></div>
                        <div class="field"><label for="diff-to">"with version"</label>
                            <select id="diff-to" bind:value=to>{options(vs2)}</select></div>
                        <button type="submit">"Show changes"</button>
                    </form>
                    {move || diff.value().get().map(|r| match r {
                        Ok(lines) if lines.is_empty() => view! { <p role="status">"The two versions enforce the same configuration."</p> }.into_any(),
                        Ok(lines) => view! { <ul aria-label="Changes between the versions" class="changes">{lines.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    })}
                }.into_any()
            }}
        </section>
    }
}
