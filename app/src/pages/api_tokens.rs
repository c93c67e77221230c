//! `/api-tokens`: tokens for the REST API (`/api/v1`) that CI jobs and other machines use.
//! Create one with scopes and a lifetime (your passkey confirms; the token is shown once),
//! see each token's state and last use, revoke one, and find its calls in the audit log.

use leptos::prelude::*;
use leptos_meta::Title;
use policy::access::Permission;
use policy::api_tokens::{Scope, DEFAULT_LIFETIME_DAYS, LIFETIME_DAYS};

use crate::api::api_tokens::{list_api_tokens, ApiTokenInfo, CreateApiToken, RevokeApiToken};
use crate::components::access::Can;
use crate::components::forms::{confirm, copy_to_clipboard};
use crate::components::passkey::confirm_then;
use crate::components::time::{relative, utc};

#[component]
pub fn ApiTokensPage() -> impl IntoView {
    let create = ServerAction::<CreateApiToken>::new();
    let revoke = ServerAction::<RevokeApiToken>::new();
    let error = RwSignal::new(None::<String>);
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_api_tokens(),
    );
    view! {
        <Title text="API tokens · Palisade"/>
        <h1>"API tokens"</h1>
        <p class="lead">
            "Tokens let a machine — the CI job that builds a mobile release, for instance — call the REST API at "
            <code>"/api/v1"</code>" with "<code>"Authorization: Bearer pat_…"</code>". Each token holds only the "
            "scopes you give it and expires by itself; every call is in the audit log under the token. Browser "
            "sessions do not work on the API, and tokens do not work on these pages."
        </p>
        <Can p=Permission::ApiTokensManage>
            <CreateForm create error/>
        </Can>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <section class="card" aria-labelledby="tokens-h">
            <h2 id="tokens-h">"Tokens"</h2>
            {move || revoke.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
            <Suspense fallback=|| view! { <p>"Loading tokens…"</p> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Ok(list) if list.tokens.is_empty() => view! { <p>"No token yet."</p> }.into_any(),
                        Ok(list) => view! { <TokenTable tokens=list.tokens now=list.now_ms revoke/> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
        <section class="card" aria-labelledby="scopes-h">
            <h2 id="scopes-h">"Scopes"</h2>
            <dl>
                {Scope::ALL.iter().map(|s| view! { <dt><code>{s.as_str()}</code></dt><dd>{s.describe()}</dd> }).collect_view()}
            </dl>
            <p class="help">"Each REST API operation names the scope it needs in the API's OpenAPI document, "<a href="/api/v1/openapi.json" rel="external">"/api/v1/openapi.json"</a>"."</p>
        </section>
    }
}

/// The creation form, and the token once created.
#[component]
fn CreateForm(
    create: ServerAction<CreateApiToken>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let scopes = RwSignal::new(Vec::<Scope>::new());
    let days = RwSignal::new(DEFAULT_LIFETIME_DAYS);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let args = CreateApiToken {
            name: name.get_untracked(),
            scopes: policy::api_tokens::scopes_text(&scopes.get_untracked()),
            days: days.get_untracked(),
        };
        confirm_then(error, move || {
            create.dispatch(args);
        });
    };
    let created = move || {
        create.value().get().map(|r| match r {
            Ok(c) => view! { <ShownOnce token=c.token secret=c.secret/> }.into_any(),
            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <section class="card" aria-labelledby="new-token-h">
            <h2 id="new-token-h">"New token"</h2>
            <form on:submit=submit>
                <div class="field">
                    <label for="token-name">"Name"</label>
                    <input id="token-name" type="text" maxlength="100" required placeholder="e.g. iOS release pipeline"
                        prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                </div>
                <fieldset>
                    <legend>"Scopes"</legend>
                    {Scope::ALL.iter().map(|s| {
                        let s = *s;
                        let id = format!("scope-{}", s.as_str().replace(':', "-"));
                        view! {
                            <div class="check">
                                <input type="checkbox" id=id.clone()
                                    prop:checked=move || scopes.get().contains(&s)
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        scopes.update(|v| { v.retain(|x| *x != s); if on { v.push(s); v.sort(); } });
                                    }/>
                                <label for=id><code>{s.as_str()}</code>" — "{s.describe()}</label>
                            </div>
                        }
                    }).collect_view()}
                </fieldset>
                <div class="field">
                    <label for="token-days">"Expires after"</label>
                    <select id="token-days" on:change=move |ev| if let Ok(d) = event_target_value(&ev).parse() { days.set(d) }>
                        {LIFETIME_DAYS.iter().map(|d| view! { <option value=d.to_string() selected=*d == DEFAULT_LIFETIME_DAYS>{format!("{d} days")}</option> }).collect_view()}
                    </select>
                </div>
                <button type="submit" disabled=move || create.pending().get()>"Create token"</button>
                <p class="help">"Your passkey confirms first. The token is shown once; Palisade keeps only its hash."</p>
            </form>
            {created}
        </section>
    }
}

/// The new token, shown this once.
#[component]
fn ShownOnce(token: ApiTokenInfo, secret: String) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let copy = {
        let secret = secret.clone();
        move |_| copied.set(Some(copy_to_clipboard(&secret)))
    };
    view! {
        <div class="shown-once secret-panel" role="region" aria-label="Token created">
            <p class="warn">{format!("Token “{}” created. Copy it now: it is shown only this once, and expires {}.", token.name, utc(token.expires_at_ms))}</p>
            <div class="field"><label for="token-shown">"Token (shown once)"</label>
                <input id="token-shown" type="text" readonly class="mono" value=secret autocomplete="off" spellcheck="false"/></div>
            <button type="button" on:click=copy>"Copy token"</button>
            {move || copied.get().map(|ok| if ok {
                view! { <span class="ok" role="status">" Copied to the clipboard."</span> }.into_any()
            } else {
                view! { <span class="error" role="alert">" This browser gives no clipboard access here: select the token and copy it."</span> }.into_any()
            })}
            <p class="help">"In CI, keep it as a secret variable, e.g. "<code>"PALISADE_API_TOKEN"</code>", and run "
                <code>"palisade release export --console URL --hostname … --format ios --app … --version …"</code>"."</p>
        </div>
    }
}

#[component]
fn TokenTable(
    tokens: Vec<ApiTokenInfo>,
    now: i64,
    revoke: ServerAction<RevokeApiToken>,
) -> impl IntoView {
    view! {
        <div class="table-wrap"><table aria-label="API tokens">
            <thead><tr>
                <th scope="col">"Name"</th><th scope="col">"Scopes"</th><th scope="col">"State"</th>
                <th scope="col">"Last used"</th><th scope="col">"Created"</th><th scope="col">"Actions"</th>
            </tr></thead>
            <tbody>
                {tokens.into_iter().map(|t| {
                    let active = t.state == "active";
                    let state = match t.state.as_str() {
                        "active" => format!("active, expires {}", relative(t.expires_at_ms, now)),
                        s => s.to_owned(),
                    };
                    let last = match (t.last_used_at_ms, &t.last_used_ip) {
                        (Some(at), Some(ip)) => format!("{} from {ip}", relative(at, now)),
                        (Some(at), None) => relative(at, now),
                        _ => "never".to_owned(),
                    };
                    let (id, name) = (StoredValue::new(t.id.clone()), StoredValue::new(t.name.clone()));
                    view! {
                        <tr>
                            <td>{t.name.clone()}</td>
                            <td><code>{t.scopes.clone()}</code></td>
                            <td><span class=format!("badge state-{}", t.state)>{state}</span></td>
                            <td>{last}</td>
                            <td>{format!("{} by {}", utc(t.created_at_ms), t.created_by)}</td>
                            <td>{active.then(|| view! {
                                <Can p=Permission::ApiTokensManage>
                                    <button type="button" class="danger" on:click=move |_| {
                                        if confirm(&format!("Revoke the token “{}”? Every call with it is refused from now on; a CI job using it fails until it gets a new one.", name.get_value())) {
                                            revoke.dispatch(RevokeApiToken { id: id.get_value() });
                                        }
                                    }>{format!("Revoke {}", t.name)}</button>
                                </Can>
                            })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table></div>
        <p class="help">"A token's calls are in the audit log under its actor, "<code>"token:<id>"</code>"."</p>
    }
}
