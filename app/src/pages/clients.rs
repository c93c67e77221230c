//! `/clients`: the OAuth client registry. Templates for the three kinds of client, the
//! redirect-URI linter and the JWKS check running in the browser as you type (the `policy`
//! crate, the same rules the server applies), secrets shown once with a copy button, rotation
//! with a grace period, and the binding to a rate-limit policy.

use leptos::prelude::*;
use leptos_meta::Title;
use policy::access::{Permission, Role};
use policy::client::{
    template, AuthMethod, ClientDraft, ClientKind, Platform, SecretStatus,
    GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS, GRANT_REFRESH_TOKEN,
};
use policy::redirect::{lint_redirect_uris, Severity};

use crate::api::clients::{
    list_clients, ClientInfo, ClientsView, DeleteClient, RevokeClientSecret, RotateClientSecret,
    SaveClient, SavedClient, SetClientEnabled,
};
use crate::components::access::{Can, Me};
use crate::components::forms::{confirm, copy_to_clipboard};
use crate::components::passkey::confirm_then;
use crate::components::time::{duration, utc};

/// How the form names each grant type; which ones a kind may use is
/// [`ClientKind::allowed_grants`].
fn grant_label(grant: &str) -> &'static str {
    match grant {
        GRANT_AUTHORIZATION_CODE => "Authorization code (PKCE S256 required)",
        GRANT_REFRESH_TOKEN => "Refresh token",
        GRANT_CLIENT_CREDENTIALS => "Client credentials",
        _ => "Other grant",
    }
}

/// How the form names each authentication method; which ones a kind may use is
/// [`ClientKind::allowed_auth_methods`].
/// What gates reported issuing to a client: "tokens issued by gates: 5 (last at …)".
fn tokens_issued(n: i64, last_at_ms: Option<i64>) -> String {
    match last_at_ms {
        Some(t) if n > 0 => format!("tokens issued by gates: {n} (last at {})", utc(t)),
        _ => format!("tokens issued by gates: {n}"),
    }
}

fn method_label(m: AuthMethod) -> &'static str {
    match m {
        AuthMethod::None => "none (public client: PKCE, no secret)",
        AuthMethod::ClientSecretBasic => "client_secret_basic (HTTP Basic)",
        AuthMethod::ClientSecretPost => "client_secret_post (form body)",
        AuthMethod::PrivateKeyJwt => "private_key_jwt (signed JWT, RFC 7523)",
    }
}

/// The form's fields as typed; `build` turns them into the draft the server checks.
#[derive(Clone, Copy)]
struct Form {
    id: RwSignal<String>,
    version: RwSignal<String>,
    kind: RwSignal<ClientKind>,
    name: RwSignal<String>,
    description: RwSignal<String>,
    platform: RwSignal<String>,
    redirect_uris: RwSignal<String>,
    grants: RwSignal<Vec<String>>,
    scopes: RwSignal<String>,
    lifetime: RwSignal<String>,
    auth_method: RwSignal<String>,
    jwks: RwSignal<String>,
    policy_id: RwSignal<String>,
    /// The edited client's redirect URIs and authentication method as saved: changing either
    /// needs a passkey confirmation (the server checks the same).
    saved_uris: RwSignal<Vec<String>>,
    saved_method: RwSignal<Option<AuthMethod>>,
    /// Whether the form is open (a template was chosen or a client is being edited).
    open: RwSignal<bool>,
}

impl Form {
    fn new() -> Self {
        let s = || RwSignal::new(String::new());
        Form {
            id: s(),
            version: s(),
            kind: RwSignal::new(ClientKind::Native),
            name: s(),
            description: s(),
            platform: s(),
            redirect_uris: s(),
            grants: RwSignal::new(Vec::new()),
            scopes: s(),
            lifetime: s(),
            auth_method: s(),
            jwks: s(),
            policy_id: s(),
            saved_uris: RwSignal::new(Vec::new()),
            saved_method: RwSignal::new(None),
            open: RwSignal::new(false),
        }
    }

    fn fill(&self, kind: ClientKind, d: &ClientDraft) {
        self.kind.set(kind);
        self.name.set(d.name.clone());
        self.description.set(d.description.clone());
        self.platform.set(d.platform.clone());
        self.redirect_uris.set(d.redirect_uris.join("\n"));
        self.grants.set(d.grant_types.clone());
        self.scopes.set(d.scopes.join(" "));
        self.lifetime.set(d.access_token_lifetime_s.to_string());
        self.auth_method.set(d.auth_method.clone());
        self.jwks.set(d.jwks.clone());
        self.policy_id.set(d.policy_id.clone());
        self.open.set(true);
    }

    fn start(&self, kind: ClientKind) {
        self.id.set(String::new());
        self.version.set(String::new());
        self.saved_uris.set(Vec::new());
        self.saved_method.set(None);
        self.fill(kind, &template(kind));
    }

    fn edit(&self, c: &ClientInfo) {
        self.id.set(c.id.clone());
        self.version.set(c.version.to_string());
        self.saved_uris.set(c.redirect_uris.clone());
        self.saved_method.set(Some(c.auth_method));
        self.fill(
            c.kind,
            &ClientDraft {
                name: c.name.clone(),
                description: c.description.clone(),
                kind: c.kind.as_str().into(),
                platform: c.platform.as_str().into(),
                redirect_uris: c.redirect_uris.clone(),
                grant_types: c.grant_types.clone(),
                scopes: c.scopes.clone(),
                access_token_lifetime_s: c.access_token_lifetime_s,
                auth_method: c.auth_method.as_str().into(),
                jwks: c.jwks.clone(),
                policy_id: c.policy_id.clone(),
            },
        );
    }

    fn uris(&self) -> Vec<String> {
        self.redirect_uris
            .get()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Whether saving would change an existing client's redirect URIs or authentication method
    /// (where tokens may go, and how the client proves itself): that needs a passkey
    /// confirmation. A new client needs none.
    fn needs_step_up(&self) -> bool {
        !self.id.get().is_empty()
            && (self.uris() != self.saved_uris.get()
                || AuthMethod::parse(&self.auth_method.get()) != self.saved_method.get())
    }

    fn build(&self) -> ClientDraft {
        ClientDraft {
            name: self.name.get(),
            description: self.description.get(),
            kind: self.kind.get().as_str().into(),
            platform: self.platform.get(),
            redirect_uris: self.uris(),
            grant_types: self.grants.get(),
            scopes: vec![self.scopes.get()],
            access_token_lifetime_s: self.lifetime.get().trim().parse().unwrap_or(0),
            auth_method: self.auth_method.get(),
            jwks: self.jwks.get(),
            policy_id: self.policy_id.get(),
        }
    }
}

#[component]
pub fn ClientsPage() -> impl IntoView {
    let save = ServerAction::<SaveClient>::new();
    let enable = ServerAction::<SetClientEnabled>::new();
    let delete = ServerAction::<DeleteClient>::new();
    let rotate = ServerAction::<RotateClientSecret>::new();
    let revoke = ServerAction::<RevokeClientSecret>::new();
    let data = Resource::new(
        move || {
            (
                save.version().get(),
                enable.version().get(),
                delete.version().get(),
                rotate.version().get(),
                revoke.version().get(),
            )
        },
        |_| list_clients(),
    );
    let form = Form::new();
    // The secret of the last change that created one: shown until the admin dismisses it,
    // then gone from the page (it was in no other answer and is stored nowhere).
    let shown_secret = RwSignal::new(None::<SavedClient>);
    Effect::new(move |_| {
        if let Some(Ok(s)) = save.value().get() {
            if s.secret.is_some() {
                shown_secret.set(Some(s));
                save.value().set(None);
            }
            form.open.set(false);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(s)) = rotate.value().get() {
            shown_secret.set(Some(s));
            rotate.value().set(None);
        }
    });

    let outcome = move |r: Option<Result<(), crate::error::AppError>>| {
        r.and_then(|r| r.err())
            .map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })
    };
    let grace = RwSignal::new("7".to_string());
    let step_error = RwSignal::new(None::<String>);
    // What the signed-in role may change, awaited where the data is: a `Can` inside a suspended
    // view would add suspense boundaries whose order on the server depends on which load
    // finishes first, and hydration fails when it differs from the browser's.
    let me = use_context::<Me>();

    view! {
        <Title text="Clients · Palisade"/>
        <h1>"Clients"</h1>
        <p class="lead">
            "The apps and services allowed to get tokens. Native apps are public clients with PKCE; services and web "
            "apps are confidential and authenticate with a secret (shown once, stored only as an Argon2id hash) or "
            "with a signed JWT (private_key_jwt)."
        </p>
        {move || shown_secret.get().map(|s| view! { <SecretPanel saved=s shown=shown_secret/> })}
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let may_write = match me { Some(Me(r)) => r.await.is_ok_and(|a| a.role.allows(Permission::ClientsWrite)), None => false };
                let policies = data.await.map(|v| v.policies).unwrap_or_default();
                may_write.then(|| view! {
                    <section class="card" aria-labelledby="new-client-h">
                        <h2 id="new-client-h">"Register a client"</h2>
                        <div class="row-actions">
                            <button type="button" on:click=move |_| form.start(ClientKind::Native)>"New native app"</button>
                            <button type="button" on:click=move |_| form.start(ClientKind::Service)>"New service"</button>
                            <button type="button" on:click=move |_| form.start(ClientKind::Web)>"New web app"</button>
                        </div>
                        {move || save.value().get().and_then(|r| r.ok()).filter(|s| s.secret.is_none()).map(|s| view! {
                            <p class="ok" role="status">{format!("Saved {} (client_id {}, version {}).", s.name, s.client_id, s.version)}</p>
                            {(!s.warnings.is_empty()).then(|| view! { <ul class="findings">{s.warnings.into_iter().map(|w| view! { <li class="finding warning">{w}</li> }).collect_view()}</ul> })}
                        })}
                        {move || form.open.get().then(|| view! { <ClientForm form=form save=save policies=policies.clone()/> })}
                    </section>
                })
            })}
        </Transition>
        <section class="card" aria-labelledby="clients-h">
            <h2 id="clients-h">"Registered clients"</h2>
            <Can p=Permission::ClientsSecrets>
                <div class="field narrow"><label for="grace-days">"Grace period when rotating a secret (days)"</label>
                    <input id="grace-days" type="number" min="0" max="90" bind:value=grace/></div>
                <p class="help">"Rotating or revoking a secret needs your passkey: a prompt appears after you confirm."</p>
            </Can>
            {move || outcome(enable.value().get())}
            {move || outcome(delete.value().get())}
            {move || step_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || outcome(revoke.value().get())}
            {move || rotate.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let role = match me { Some(Me(r)) => r.await.ok().map(|a| a.role), None => None };
                    match data.await {
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(v) => view! { <ClientTable data=v form=form enable=enable delete=delete rotate=rotate revoke=revoke grace=grace step_error=step_error role=role/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The one place a secret is ever shown.
#[component]
fn SecretPanel(saved: SavedClient, shown: RwSignal<Option<SavedClient>>) -> impl IntoView {
    let secret = saved.secret.clone().unwrap_or_default();
    let copied = RwSignal::new(None::<bool>);
    let copy = {
        let secret = secret.clone();
        move |_| copied.set(Some(copy_to_clipboard(&secret)))
    };
    view! {
        <section class="card secret-panel" role="region" aria-labelledby="secret-h">
            <h2 id="secret-h">{format!("New secret for {}", saved.name)}</h2>
            <p class="warn">"Copy it now: it is shown only this once. Palisade keeps only a hash and cannot show it again."</p>
            <div class="field"><label for="client-id-shown">"client_id"</label>
                <input id="client-id-shown" type="text" readonly value=saved.client_id.clone()/></div>
            <div class="field"><label for="secret-shown">"Client secret (shown once)"</label>
                <input id="secret-shown" type="text" readonly value=secret.clone() autocomplete="off" spellcheck="false"/></div>
            <button type="button" on:click=copy>"Copy secret"</button>
            {move || copied.get().map(|ok| if ok {
                view! { <span class="ok" role="status">" Copied to the clipboard."</span> }.into_any()
            } else {
                view! { <span class="error" role="alert">" This browser gives no clipboard access here: select the secret and copy it."</span> }.into_any()
            })}
            <button type="button" class="secondary" on:click=move |_| shown.set(None)>"I have stored it, hide it"</button>
        </section>
    }
}

#[component]
fn ClientForm(
    form: Form,
    save: ServerAction<SaveClient>,
    policies: Vec<crate::api::clients::PolicyChoice>,
) -> impl IntoView {
    let kind = form.kind;
    let method = Memo::new(move |_| AuthMethod::parse(&form.auth_method.get()));
    let uri_issues = Memo::new(move |_| lint_redirect_uris(kind.get(), &form.uris()));
    let jwks_issues = Memo::new(move |_| {
        if !method.get().is_some_and(AuthMethod::uses_jwks) {
            return Vec::new();
        }
        match policy::jwk::validate_client_jwks(&form.jwks.get()) {
            Ok((_, warnings)) => warnings.into_iter().map(|w| (false, w.message)).collect(),
            Err(errors) => errors
                .into_iter()
                .map(|e| (e.severity == Severity::Error, e.message))
                .collect::<Vec<_>>(),
        }
    });
    let blocked = move || {
        uri_issues
            .get()
            .iter()
            .any(|i| i.severity == Severity::Error)
            || jwks_issues.get().iter().any(|(e, _)| *e)
            || form.name.get().trim().is_empty()
    };
    let step_error = RwSignal::new(None::<String>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if blocked() {
            return;
        }
        let draft = serde_json::to_string(&form.build()).unwrap_or_default();
        let args = SaveClient {
            id: form.id.get_untracked(),
            version: form.version.get_untracked(),
            draft_json: draft,
        };
        step_error.set(None);
        if form.needs_step_up() {
            confirm_then(step_error, move || {
                save.dispatch(args);
            });
        } else {
            save.dispatch(args);
        }
    };
    let allowed_grants = move || -> Vec<(&'static str, &'static str)> {
        kind.get()
            .allowed_grants()
            .iter()
            .map(|g| (*g, grant_label(g)))
            .collect()
    };
    let methods = move || -> Vec<(&'static str, &'static str)> {
        kind.get()
            .allowed_auth_methods()
            .iter()
            .map(|m| (m.as_str(), method_label(*m)))
            .collect()
    };
    view! {
        <form class="client-form" on:submit=on_submit aria-label="Client">
            <h3>{move || if form.id.get().is_empty() { format!("New {} client", form.kind.get().label().to_lowercase()) } else { format!("Edit {}", form.name.get()) }}</h3>
            <div class="inline-form">
                <div class="field"><label for="c-name">"Client name"</label>
                    <input id="c-name" type="text" required bind:value=form.name/></div>
                <div class="field"><label for="c-platform">"Platform"</label>
                    <select id="c-platform" bind:value=form.platform>
                        {Platform::ALL.into_iter().map(|p| view! { <option value=p.as_str()>{p.label()}</option> }).collect_view()}
                    </select></div>
                <div class="field"><label for="c-lifetime">"Access-token lifetime (seconds)"</label>
                    <input id="c-lifetime" type="number" min="60" max="86400" bind:value=form.lifetime/>
                    <span class="help">{move || form.lifetime.get().trim().parse::<i64>().ok().map(duration)}</span></div>
            </div>
            <div class="field"><label for="c-description">"Description"</label>
                <input id="c-description" type="text" bind:value=form.description/></div>
            {move || (kind.get() != ClientKind::Service).then(|| view! {
                <div class="field"><label for="c-redirects">"Redirect URIs (one per line, matched exactly)"</label>
                    <textarea id="c-redirects" rows="3" aria-describedby="c-redirect-issues" bind:value=form.redirect_uris
                        placeholder=move || if kind.get() == ClientKind::Native { "com.example.app:/oauth/callback\nhttp://127.0.0.1/callback" } else { "https://app.example.com/oauth/callback" }></textarea></div>
            })}
            <ul class="findings" id="c-redirect-issues" aria-label="Redirect URI findings">
                {move || uri_issues.get().into_iter().map(|i| {
                    let error = i.severity == Severity::Error;
                    view! { <li class=if error { "finding error" } else { "finding warning" } role=if error { "alert" } else { "status" }>{if error { "Error: " } else { "Warning: " }}{i.message}</li> }
                }).collect_view()}
            </ul>
            <fieldset>
                <legend>"Grant types"</legend>
                {move || allowed_grants().into_iter().map(|(g, label)| {
                    let id = format!("c-grant-{g}");
                    view! {
                        <div class="field checkbox">
                            <input id=id.clone() type="checkbox" prop:checked=move || form.grants.get().iter().any(|x| x == g)
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    form.grants.update(|v| { v.retain(|x| x != g); if on { v.push(g.to_owned()); } });
                                }/>
                            <label for=id>{label}</label>
                        </div>
                    }
                }).collect_view()}
            </fieldset>
            <div class="inline-form">
                <div class="field"><label for="c-scopes">"Scopes (space-separated)"</label>
                    <input id="c-scopes" type="text" placeholder="orders:read profile" bind:value=form.scopes/></div>
                <div class="field"><label for="c-auth">"Authentication method"</label>
                    <select id="c-auth" bind:value=form.auth_method>
                        {move || methods().into_iter().map(|(v, l)| view! { <option value=v selected=move || form.auth_method.get() == v>{l}</option> }).collect_view()}
                    </select></div>
                <div class="field"><label for="c-policy">"Bound rate-limit policy"</label>
                    <select id="c-policy" bind:value=form.policy_id>
                        <option value="">"None (policies match by route, IP, …)"</option>
                        {policies.into_iter().map(|p| { let id = p.id.clone(); view! { <option value=p.id selected=move || form.policy_id.get() == id>{p.name}</option> } }).collect_view()}
                    </select></div>
            </div>
            {move || method.get().is_some_and(AuthMethod::uses_jwks).then(|| view! {
                <div class="field"><label for="c-jwks">"Client's public JWKS (JSON)"</label>
                    <textarea id="c-jwks" rows="6" aria-describedby="c-jwks-issues" bind:value=form.jwks placeholder="{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"…\",\"y\":\"…\",\"kid\":\"…\"}]}"></textarea></div>
                <ul class="findings" id="c-jwks-issues" aria-label="JWKS findings">
                    {move || jwks_issues.get().into_iter().map(|(error, m)| view! {
                        <li class=if error { "finding error" } else { "finding warning" } role=if error { "alert" } else { "status" }>{if error { "Error: " } else { "Warning: " }}{m}</li>
                    }).collect_view()}
                </ul>
            })}
            {move || form.needs_step_up().then(|| view! {
                <p class="help">"You changed the redirect URIs or the authentication method: saving asks for your passkey."</p>
            })}
            <button type="submit" disabled=move || blocked() || save.pending().get()>
                {move || if form.id.get().is_empty() { "Register client" } else { "Save changes" }}
            </button>
            <button type="button" class="secondary" on:click=move |_| form.open.set(false)>"Cancel"</button>
            {move || save.pending().get().then(|| view! { <p class="pending" role="status">"Saving…"</p> })}
            {move || step_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || save.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
        </form>
    }
}

#[component]
fn ClientTable(
    data: ClientsView,
    form: Form,
    enable: ServerAction<SetClientEnabled>,
    delete: ServerAction<DeleteClient>,
    rotate: ServerAction<RotateClientSecret>,
    revoke: ServerAction<RevokeClientSecret>,
    grace: RwSignal<String>,
    step_error: RwSignal<Option<String>>,
    /// The signed-in admin's role (`None`: unknown), for what each row offers to change.
    role: Option<Role>,
) -> impl IntoView {
    let may = move |p: Permission| role.is_some_and(|r| r.allows(p));
    if data.clients.is_empty() {
        return view! { <p>"No client yet."{may(Permission::ClientsWrite).then_some(" Choose a template above.")}</p> }.into_any();
    }
    view! {
        <div class="table-wrap"><table>
            <caption>"Clients by name"</caption>
            <thead><tr>
                <th scope="col">"Name"</th><th scope="col">"Type"</th><th scope="col">"client_id"</th>
                <th scope="col">"Authentication"</th><th scope="col">"Redirect URIs"</th>
                <th scope="col">"Rate-limit policy"</th><th scope="col">"Secrets"</th><th scope="col">"Actions"</th>
            </tr></thead>
            <tbody>
                {data.clients.into_iter().map(|c| {
                    let edit = c.clone();
                    let name = c.name.clone();
                    let version = c.version.to_string();
                    let (id1, id2, id3) = (c.id.clone(), c.id.clone(), c.id.clone());
                    let (v1, v2, v3) = (version.clone(), version.clone(), version.clone());
                    let (n1, n2, n3) = (name.clone(), name.clone(), name.clone());
                    let enabled = c.enabled;
                    let has_secret = c.auth_method.uses_secret();
                    let secrets = c.secrets.clone();
                    let client_row = c.id.clone();
                    view! {
                        <tr id=crate::pages::anchor("client", &c.id) class=if enabled { "" } else { "disabled" }>
                            <td>{c.name.clone()}{(!enabled).then_some(" (disabled)")}<br/><span class="help">{c.description.clone()}</span></td>
                            <td>{c.kind.label()}<br/><span class="help">{c.platform.as_str()}</span></td>
                            <td><code>{c.client_id.clone()}</code></td>
                            <td>{c.auth_method.as_str()}{c.kind.uses_pkce().then_some(" + PKCE")}
                                <br/><span class="help" aria-label=format!("Token usage of {}", c.name)>{tokens_issued(c.tokens_issued, c.last_token_at_ms)}</span></td>
                            <td>{if c.redirect_uris.is_empty() { view! { <span class="help">"none"</span> }.into_any() } else {
                                view! { <ul class="plain">{c.redirect_uris.iter().map(|u| view! { <li><code>{u.clone()}</code></li> }).collect_view()}</ul> }.into_any() }}</td>
                            <td>{c.policy_name.clone().unwrap_or_else(|| "none".into())}</td>
                            <td>
                                {if has_secret || !secrets.is_empty() {
                                    view! { <ul class="plain secrets">{secrets.into_iter().map(|s| {
                                        let (sid, cid, ver) = (s.id.clone(), client_row.clone(), version.clone());
                                        let hint = s.hint.clone();
                                        let live = s.status.is_valid();
                                        let dates = format!(
                                            "created {}{}; last used: {}",
                                            utc(s.created_at_ms),
                                            match (s.status, s.expires_at_ms, s.revoked_at_ms) {
                                                (SecretStatus::Revoked, _, Some(t)) => format!(", revoked {}", utc(t)),
                                                (_, Some(t), _) => format!(", expires {}", utc(t)),
                                                _ => ", no expiry".to_owned(),
                                            },
                                            s.last_used_at_ms.map(utc).unwrap_or_else(|| "not reported by any gate yet".into()),
                                        );
                                        view! {
                                            <li>
                                                <code>{hint.clone()}</code>" "<span class=format!("badge secret-{}", s.status)>{s.status.as_str()}</span>
                                                <br/><span class="help">{dates}</span>
                                                {(live && may(Permission::ClientsSecrets)).then(|| view! {
                                                    <button type="button" class="secondary small" on:click=move |_| {
                                                        if confirm(&format!("Revoke the secret {hint} now? Anything still using it is refused from this moment. Your passkey confirms it next.")) {
                                                            let args = RevokeClientSecret { id: cid.clone(), version: ver.clone(), secret_id: sid.clone() };
                                                            confirm_then(step_error, move || { revoke.dispatch(args); });
                                                        }
                                                    }>{format!("Revoke {}", s.hint)}</button>
                                                })}
                                            </li>
                                        }
                                    }).collect_view()}</ul> }.into_any()
                                } else { view! { <span class="help">{if c.auth_method.uses_jwks() { "signed JWT (no secret)" } else { "none (public client)" }}</span> }.into_any() }}
                            </td>
                            <td class="row-actions">
                                {may(Permission::ClientsWrite).then(|| view! {
                                    <button type="button" class="secondary small" on:click=move |_| form.edit(&edit)>{format!("Edit {name}")}</button>
                                })}
                                {(has_secret && may(Permission::ClientsSecrets)).then(|| view! {
                                    <button type="button" class="small" on:click=move |_| {
                                        let days = grace.get_untracked();
                                        let message = format!("Rotate the secret of {n1}? A new secret is shown once; the current one stays valid for {days} more days, then expires. Your passkey confirms it next.");
                                        if confirm(&message) {
                                            let args = RotateClientSecret { id: id1.clone(), version: v1.clone(), grace_days: days };
                                            confirm_then(step_error, move || { rotate.dispatch(args); });
                                        }
                                    }>{format!("Rotate secret of {}", n3)}</button>
                                })}
                                {may(Permission::ClientsWrite).then(|| view! {
                                    <button type="button" class="secondary small" on:click=move |_| {
                                        enable.dispatch(SetClientEnabled { id: id2.clone(), enabled: !enabled, version: v2.clone() });
                                    }>{if enabled { format!("Disable {}", c.name) } else { format!("Enable {}", c.name) }}</button>
                                })}
                                {may(Permission::ClientsDelete).then(|| view! {
                                    <button type="button" class="secondary small" on:click=move |_| {
                                        if confirm(&format!("Delete the client {n2}? It gets no new tokens and its secrets are erased; tokens already issued stay valid until they expire. Your passkey confirms it next.")) {
                                            let args = DeleteClient { id: id3.clone(), version: v3.clone() };
                                            confirm_then(step_error, move || { delete.dispatch(args); });
                                        }
                                    }>{format!("Delete {}", c.name)}</button>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table></div>
    }
    .into_any()
}
