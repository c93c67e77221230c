//! `/`: the signed-in admin's starting point: who they are and what happened lately.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::dashboard::dashboard;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let data = OnceResource::new(dashboard());
    view! {
        <Title text="Dashboard · Palisade"/>
        <h1>"Dashboard"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(html) => view! { <div class="dashboard" inner_html=html></div> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
        <section class="card" aria-labelledby="status-h">
            <h2 id="status-h">"What works today"</h2>
            <ul>
                <li>"Passkey sign-in, sessions and the tamper-evident audit log: built."</li>
                <li>"Certificates (internal CA, next-key rotation with the planner, CSRs, import) and pin sets (linter, exports, app releases): built."</li>
                <li>"Rate-limit policies (inline validation, preview, effective limit, shadow → enforce): built, and enforced by enrolled gates (cluster-scoped limits shared through Redis by gates run with --redis)."</li>
                <li>"Gates: enrolment, signed bundles pushed and pulled, fleet view with live convergence, bundle history and diff, revoke; a next signing key takes over only once every gate serves it. Built."</li>
                <li>"OAuth clients (templates, redirect-URI linter, secrets shown once, rotation with grace) and signing key sets (automatic rotation, JWKS, emergency revoke): built; gates validate tokens signed by the published keys, and a gate's token endpoint issues them to registered clients (client credentials)."</li>
                <li>"Admins: roles with one permission per action (checked by the server on every call), invites, several passkeys per admin, sessions you can end, passkey confirmation for sensitive actions: built."</li>
            </ul>
        </section>
    }
}

/// The welcome line and the three cards, rendered on the server only
/// ([`crate::api::dashboard::dashboard`] sends them as HTML).
#[cfg(feature = "ssr")]
pub fn sections(d: crate::api::dashboard::DashboardView) -> impl IntoView {
    use crate::components::timeline::ExpiryTimeline;

    let crate::api::dashboard::DashboardView {
        me,
        expiries,
        fleet,
        recent,
    } = d;
    let urgent = expiries.iter().filter(|i| i.level != "ok").count();
    view! {
        <p class="lead">"Welcome, " {me.display_name} ". You are signed in as "
            <strong>{me.username}</strong> " (" {me.role.as_str()} ")."</p>
        <section class="card" aria-labelledby="expiry-h">
            <h2 id="expiry-h">"Expiry inventory"</h2>
            {if expiries.is_empty() {
                view! {
                    <p>"Nothing expires yet: no certificate or pin set exists. Start on the "<a href="/certificates">"Certificates"</a>" page."</p>
                }.into_any()
            } else {
                view! {
                    {(urgent > 0).then(|| view! {
                        <p class="error" role="alert">{format!("{urgent} item(s) expire within 30 days or have expired.")}</p>
                    })}
                    <ExpiryTimeline items=expiries.clone()/>
                    <div class="table-wrap">
                        <table>
                            <caption>"Soonest first; warnings at 30, 14 and 7 days"</caption>
                            <thead><tr><th scope="col">"What"</th><th scope="col">"Name"</th><th scope="col">"Expires"</th><th scope="col">"Days left"</th><th scope="col">"Warning"</th></tr></thead>
                            <tbody>
                                {expiries.into_iter().map(|i| view! {
                                    <tr class=format!("level-{}", i.level)>
                                        <td>{i.kind}</td><td>{i.name}</td><td><time>{i.date}</time></td>
                                        <td class="num">{i.days_left}</td>
                                        <td>{match i.level.as_str() { "expired" => "expired", "7" => "within 7 days", "14" => "within 14 days", "30" => "within 30 days", _ => "—" }}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
        <section class="card" aria-labelledby="gates-h">
            <h2 id="gates-h">"Gates"</h2>
            <p role="status" aria-label="Gate convergence">{fleet.convergence}</p>
            {(!fleet.refusing.is_empty()).then(|| view! {
                <p class="error" role="alert">{format!("Refusing the latest bundle: {}. They keep enforcing their older version.", fleet.refusing.join(", "))}</p>
            })}
            {fleet.publish_error.map(|e| view! { <p class="error" role="alert">{format!("The current configuration is not published: {e}")}</p> })}
            <p><a href="/gates">"Open the fleet"</a></p>
        </section>
        <section class="card" aria-labelledby="recent-h">
            <h2 id="recent-h">"Recent activity"</h2>
            {match recent {
                None => view! { <p>"Your role does not include reading the audit log."</p> }.into_any(),
                Some(events) if events.is_empty() => view! { <p>"No events yet."</p> }.into_any(),
                Some(events) => view! {
                    <ul class="activity">
                        {events.into_iter().map(|e| view! {
                            <li class=format!("outcome-{}", e.outcome)>
                                <time datetime=e.at.clone()>{e.at.replace('T', " ").chars().take(19).collect::<String>()}</time>
                                " " <strong>{e.actor}</strong> " " {e.action} " " {e.target}
                                " — " {e.outcome.clone()}
                            </li>
                        }).collect_view()}
                    </ul>
                    <p><a href="/audit">"Open the audit log"</a></p>
                }.into_any(),
            }}
        </section>
    }
}
