//! `/audit`: the audit explorer. Filters live in the URL (a view can be shared), pages of 100
//! go back by sequence number (stable while events arrive), each event opens to what it changed
//! field by field, targets link to their page and to their other events, the filtered result
//! downloads as CSV or JSONL, and the chain can be verified on demand.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::audit::{
    audit_forwarding, search_audit, verify_audit_chain, AuditQuery, AuditRow, ForwardingView,
    PAGE_SIZE,
};
use crate::components::time;
use crate::pages::use_hydrated;

#[component]
pub fn AuditPage() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| {
        params.with(|p| {
            let get = |k: &str| p.get(k).unwrap_or_default();
            AuditQuery {
                actor: get("actor"),
                action: get("action"),
                target: get("target"),
                outcome: get("outcome"),
                since: get("since"),
                until: get("until"),
                text: get("text"),
            }
        })
    });
    let before = Memo::new(move |_| params.with(|p| p.get("before")?.parse::<i64>().ok()));
    let results = Resource::new(
        move || (query.get(), before.get()),
        |(q, b)| search_audit(q, b),
    );
    view! {
        <Title text="Audit · Palisade"/>
        <h1>"Audit log"</h1>
        <p class="lead">
            "Every change and every sign-in attempt, newest first. Each event carries a MAC of the one "
            "before it, so an edited, deleted or reordered row breaks the chain."
        </p>
        <ChainCheck/>
        <Forwarding/>
        <Filters query/>
        <Transition fallback=|| view! { <p role="status">"Loading events…"</p> }>
            {move || Suspend::new(async move {
                match results.await {
                    Ok(page) => {
                        let q = query.get_untracked();
                        view! { <Results q before=before.get_untracked() events=page.events older=page.older/> }.into_any()
                    }
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ChainCheck() -> impl IntoView {
    let hydrated = use_hydrated();
    let verify = Action::new(|_: &()| verify_audit_chain());
    view! {
        <section class="card" aria-labelledby="verify-h">
            <h2 id="verify-h">"Chain verification"</h2>
            <button type="button" on:click=move |_| { verify.dispatch(()); }
                disabled=move || !hydrated.get() || verify.pending().get()>
                {move || if verify.pending().get() { "Verifying…" } else { "Verify chain" }}
            </button>
            <p role="status" class=move || match verify.value().get() {
                Some(Ok(v)) if v.intact => "ok",
                Some(_) => "error",
                None => "",
            }>
                {move || verify.value().get().map(|r| match r {
                    Ok(v) => v.message,
                    Err(e) => e.to_string(),
                })}
            </p>
        </section>
    }
}

/// Where forwarding to each syslog collector stands: how far behind the log, the last error.
#[component]
fn Forwarding() -> impl IntoView {
    let hydrated = use_hydrated();
    let status = Resource::new(|| (), |_| audit_forwarding());
    view! {
        <section class="card" aria-labelledby="forwarding-h">
            <h2 id="forwarding-h">"Forwarding"</h2>
            <Transition fallback=|| view! { <p role="status">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(list) if list.is_empty() => view! {
                            <p>
                                "The log is not forwarded to a collector. Start the console with "
                                <code>"--audit-syslog tls://collector.example.com:6514"</code>
                                " to send every event there as RFC 5424 syslog, in order and at least once."
                            </p>
                        }.into_any(),
                        Ok(list) => view! {
                            <table class="forwarding">
                                <caption>"Collectors the log is sent to"</caption>
                                <thead><tr>
                                    <th scope="col">"Collector"</th>
                                    <th scope="col">"State"</th>
                                    <th scope="col">"Sent up to"</th>
                                    <th scope="col">"Behind"</th>
                                </tr></thead>
                                <tbody>{list.into_iter().map(|f| view! { <ForwardingRow f/> }).collect_view()}</tbody>
                            </table>
                        }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
            <button type="button" class="secondary" disabled=move || !hydrated.get()
                on:click=move |_| status.refetch()>"Refresh"</button>
        </section>
    }
}

#[component]
fn ForwardingRow(f: ForwardingView) -> impl IntoView {
    let (class, state) = match (&f.last_error, f.active, f.behind) {
        (_, false, _) => (
            "badge",
            "Not sending: no running console forwards here".to_owned(),
        ),
        (Some(e), true, _) => (
            "badge outcome-failure",
            format!(
                "Retrying: {e}{}",
                f.last_error_at_ms
                    .map(|at| format!(" ({})", time::relative(at, f.now_ms)))
                    .unwrap_or_default()
            ),
        ),
        (None, true, 0) => ("badge outcome-success", "Up to date".to_owned()),
        (None, true, _) => ("badge", "Sending".to_owned()),
    };
    let sent = match (f.sent_seq, f.sent_at_ms) {
        (0, _) => "nothing yet".to_owned(),
        (seq, Some(at)) => format!("#{seq}, {}", time::relative(at, f.now_ms)),
        (seq, None) => format!("#{seq}"),
    };
    let behind = match f.behind {
        1 => "1 event".to_owned(),
        n => format!("{n} events"),
    };
    view! {
        <tr>
            <th scope="row"><code>{f.destination}</code></th>
            <td><span class=class>{state}</span></td>
            <td>{sent}</td>
            <td class="num" data-behind=f.behind>{behind}</td>
        </tr>
    }
}

/// The filter form: a plain GET form on `/audit`, so it works before the page hydrates and
/// the URL always holds what is shown; once hydrated, submitting navigates in the page.
#[component]
fn Filters(query: Memo<AuditQuery>) -> impl IntoView {
    use leptos::html::{Input, Select};
    let navigate = leptos_router::hooks::use_navigate();
    let (actor, action, target) = (
        NodeRef::<Input>::new(),
        NodeRef::<Input>::new(),
        NodeRef::<Input>::new(),
    );
    let (since, until, text) = (
        NodeRef::<Input>::new(),
        NodeRef::<Input>::new(),
        NodeRef::<Input>::new(),
    );
    let outcome_ref = NodeRef::<Select>::new();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let value = |r: NodeRef<Input>| r.get_untracked().map(|el| el.value()).unwrap_or_default();
        let q = AuditQuery {
            actor: value(actor),
            action: value(action),
            target: value(target),
            outcome: outcome_ref
                .get_untracked()
                .map(|el| el.value())
                .unwrap_or_default(),
            since: value(since),
            until: value(until),
            text: value(text),
        };
        navigate(&format!("/audit?{}", q.to_query()), Default::default());
    };
    move || {
        let q = query.get();
        let outcome = |value: &'static str, label: &'static str| {
            view! { <option value=value selected=q.outcome == value>{label}</option> }
        };
        view! {
            <form method="get" action="/audit" class="card audit-filters" aria-label="Filter events"
                on:submit=on_submit.clone()>
                <div class="field">
                    <label for="f-actor">"Actor"</label>
                    <input id="f-actor" node_ref=actor type="text" name="actor" value=q.actor.clone()
                        placeholder="exact: alice, token:…"/>
                </div>
                <div class="field">
                    <label for="f-action">"Action starts with"</label>
                    <input id="f-action" node_ref=action type="text" name="action" value=q.action.clone() placeholder="policies."/>
                </div>
                <div class="field">
                    <label for="f-target">"Target"</label>
                    <input id="f-target" node_ref=target type="text" name="target" value=q.target.clone() placeholder="policy:…"/>
                </div>
                <div class="field">
                    <label for="f-outcome">"Outcome"</label>
                    <select id="f-outcome" node_ref=outcome_ref name="outcome">
                        {outcome("", "Any")}
                        {outcome("success", "Success")}
                        {outcome("failure", "Failure")}
                        {outcome("denied", "Denied")}
                    </select>
                </div>
                <div class="field">
                    <label for="f-since">"From (UTC)"</label>
                    <input id="f-since" node_ref=since type="datetime-local" name="since" value=q.since.clone()/>
                </div>
                <div class="field">
                    <label for="f-until">"Before (UTC)"</label>
                    <input id="f-until" node_ref=until type="datetime-local" name="until" value=q.until.clone()/>
                </div>
                <div class="field grow">
                    <label for="f-text">"Details contain"</label>
                    <input id="f-text" node_ref=text type="text" name="text" value=q.text.clone()
                        placeholder="exact text, case-sensitive"/>
                </div>
                <div class="buttons">
                    <button type="submit">"Apply filters"</button>
                    <a href="/audit" class="button secondary">"Clear"</a>
                </div>
            </form>
        }
    }
}

/// One page of events with its navigation and export links.
#[component]
fn Results(
    q: AuditQuery,
    before: Option<i64>,
    events: Vec<AuditRow>,
    older: Option<i64>,
) -> impl IntoView {
    let base = q.to_query();
    let with = |extra: String| match (base.is_empty(), extra.is_empty()) {
        (true, _) => extra,
        (false, true) => base.clone(),
        (false, false) => format!("{base}&{extra}"),
    };
    let newest = format!("/audit?{}", with(String::new()));
    let older_href = older.map(|o| format!("/audit?{}", with(format!("before={o}"))));
    let plural = |n: usize| if n == 1 { "event" } else { "events" };
    let caption = match (events.len(), before, older) {
        (0, _, _) => "No event matches these filters.".to_owned(),
        (n, None, None) => format!("{n} matching {}", plural(n)),
        (n, None, Some(_)) => format!("The newest {n} matching events"),
        (n, Some(b), _) => format!("{n} matching {} before #{b}", plural(n)),
    };
    let export = |ext: &str| format!("/download/audit.{ext}?{base}");
    view! {
        <section aria-labelledby="results-h">
            <h2 id="results-h">"Events"</h2>
            <p class="buttons">
                <a href=export("csv") download rel="external">"Download CSV"</a>
                <a href=export("jsonl") download rel="external">"Download JSONL"</a>
                <span class="help">"Every matching event, not only this page."</span>
            </p>
            <div class="table-wrap">
            <table class="audit">
                <caption>{caption}</caption>
                <thead><tr>
                    <th scope="col">"#"</th>
                    <th scope="col">"Time (UTC)"</th>
                    <th scope="col">"Actor"</th>
                    <th scope="col">"Action"</th>
                    <th scope="col">"Target"</th>
                    <th scope="col">"Outcome"</th>
                    <th scope="col">"What changed"</th>
                </tr></thead>
                <tbody>{events.into_iter().map(|row| view! { <EventRow row/> }).collect_view()}</tbody>
            </table>
            </div>
            <nav class="buttons" aria-label="Pages">
                {before.map(|_| view! { <a href=newest.clone()>"← Newest events"</a> })}
                {older_href.map(|h| view! { <a href=h>{format!("Older events (pages of {PAGE_SIZE}) →")}</a> })}
            </nav>
        </section>
    }
}

#[component]
fn EventRow(row: AuditRow) -> impl IntoView {
    let e = row.event;
    let changed = row.changes.iter().filter(|c| c.before != c.after).count();
    let summary = match (row.changes.is_empty(), changed) {
        (false, 1) => "1 field changed".to_owned(),
        (false, n) => format!("{n} fields changed"),
        (true, _) => "Details".to_owned(),
    };
    let shown_at = e.at.get(..19).unwrap_or(&e.at).replace('T', " ");
    let by_actor = format!("/audit?{}", filter_query("actor", &e.actor));
    let by_target = format!("/audit?{}", filter_query("target", &e.target));
    let mut context = row.context;
    if let Some(ip) = e.ip {
        context.push(("client IP".to_owned(), ip));
    }
    if let Some(ua) = e.user_agent {
        context.push(("user agent".to_owned(), ua));
    }
    let same_fields: Vec<_> = row
        .changes
        .iter()
        .filter(|c| c.before == c.after)
        .cloned()
        .collect();
    let changes = (!row.changes.is_empty()).then(|| {
        view! {
            <table class="diff">
                <caption>"Before and after"</caption>
                <thead><tr><th scope="col">"Field"</th><th scope="col">"Before"</th><th scope="col">"After"</th></tr></thead>
                <tbody>
                    // What changed first, then the fields that stayed as they were.
                    {row.changes.into_iter().filter(|c| c.before != c.after)
                        .chain(same_fields).map(|c| {
                        let same = c.before == c.after;
                        let side = move |v: Option<String>, new: bool| match v {
                            None => view! { <span class="absent">"(none)"</span> }.into_any(),
                            Some(v) if same => view! { <span>{v}</span> }.into_any(),
                            Some(v) if new => view! { <ins>{v}</ins> }.into_any(),
                            Some(v) => view! { <del>{v}</del> }.into_any(),
                        };
                        view! {
                            <tr class=if same { "same" } else { "changed" }>
                                <th scope="row"><code>{c.field}</code></th>
                                <td>{side(c.before, false)}</td>
                                <td>{side(c.after, true)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        }
    });
    view! {
        <tr>
            <td class="num">{e.seq}</td>
            <td><time datetime=e.at.clone()>{shown_at}</time></td>
            <td><a href=by_actor title="Only this actor's events">{e.actor}</a></td>
            <td><code>{e.action}</code></td>
            <td>
                {match object_href(&e.target) {
                    // A document load (not the router), so the row is the page's `:target`.
                    Some(href) => view! { <a href=href rel="external">{e.target.clone()}</a> }.into_any(),
                    None => view! { <span>{e.target.clone()}</span> }.into_any(),
                }}
                " " <a href=by_target class="small" aria-label=format!("Events of {}", e.target)>"(events)"</a>
            </td>
            <td><span class=format!("badge outcome-{}", e.outcome)>{e.outcome.clone()}</span></td>
            <td class="what">
                <details>
                    <summary>{summary}</summary>
                    {changes}
                    <dl class="facts">
                        {context.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
                    </dl>
                </details>
            </td>
        </tr>
    }
}

/// `key=value` with the value percent-encoded, as the filter form would send it.
fn filter_query(key: &str, value: &str) -> String {
    AuditQuery {
        actor: if key == "actor" {
            value.to_owned()
        } else {
            String::new()
        },
        target: if key == "target" {
            value.to_owned()
        } else {
            String::new()
        },
        ..AuditQuery::default()
    }
    .to_query()
}

/// The page an audit target lives on, at its row or card (`client:<id>` → that client's row on
/// the clients page, `pinset:host` → that pin set's card); `None` for targets with no page (sign-in attempts, the chain itself).
fn object_href(target: &str) -> Option<String> {
    let (kind, id) = target.split_once(':').unwrap_or((target, ""));
    let page = match kind {
        "client" => "/clients",
        "key_set" => "/keys",
        "pinset" | "hostname" | "release" => "/pin-sets",
        "certificate" | "csr" | "ca" => "/certificates",
        "policy" => "/rate-limits",
        "gate" | "bundle" | "gate_settings" => "/gates",
        "admin" | "invite" => "/admins",
        "api_token" => "/api-tokens",
        "audit_forwarding" => "/audit",
        _ => return None,
    };
    let anchor = |kind: &str| format!("{page}#{}", crate::pages::anchor(kind, id));
    Some(match kind {
        "pinset" | "hostname" => format!("{page}#ps-{}", crate::pages::pinsets::slug(id)),
        _ if id.is_empty() => page.to_owned(),
        "client" => anchor("client"),
        "key_set" => anchor("set"),
        "policy" => anchor("policy"),
        "gate" => anchor("gate"),
        _ => page.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_link_to_their_page() {
        assert_eq!(
            object_href("client:c1").as_deref(),
            Some("/clients#client-c1")
        );
        assert_eq!(
            object_href("policy:p1").as_deref(),
            Some("/rate-limits#policy-p1")
        );
        assert_eq!(object_href("key_set:k1").as_deref(), Some("/keys#set-k1"));
        assert_eq!(object_href("gate:g1").as_deref(), Some("/gates#gate-g1"));
        assert_eq!(
            object_href("client:a\"b").as_deref(),
            Some("/clients#client-a-b"),
            "an id is made safe for an element id"
        );
        assert_eq!(object_href("gate_settings").as_deref(), Some("/gates"));
        assert_eq!(
            object_href("pinset:api.example.com").as_deref(),
            Some("/pin-sets#ps-api-example-com")
        );
        assert_eq!(object_href("api_token:t1").as_deref(), Some("/api-tokens"));
        assert_eq!(object_href("alice"), None);
        assert_eq!(object_href("session:x"), None);
    }

    #[test]
    fn filter_links_encode_the_value() {
        assert_eq!(
            filter_query("actor", "token:ab cd"),
            "actor=token%3Aab%20cd"
        );
        assert_eq!(filter_query("target", "pinset:a.b"), "target=pinset%3Aa.b");
    }
}
