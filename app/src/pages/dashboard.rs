//! `/`: the signed-in admin's starting point: who they are and what happened lately.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::audit::list_audit_events;
use crate::api::auth::current_admin;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let me = OnceResource::new(current_admin());
    let recent = OnceResource::new(list_audit_events(8));
    view! {
        <Title text="Dashboard · Palisade"/>
        <h1>"Dashboard"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                me.await.ok().map(|a| view! {
                    <p class="lead">"Welcome, " {a.display_name} ". You are signed in as "
                        <strong>{a.username}</strong> " (" {a.role} ")."</p>
                })
            })}
        </Suspense>
        <section class="card" aria-labelledby="recent-h">
            <h2 id="recent-h">"Recent activity"</h2>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match recent.await {
                        Ok(events) if events.is_empty() => view! { <p>"No events yet."</p> }.into_any(),
                        Ok(events) => view! {
                            <ol class="activity">
                                {events.into_iter().map(|e| view! {
                                    <li class=format!("outcome-{}", e.outcome)>
                                        <time datetime=e.at.clone()>{e.at.replace('T', " ").chars().take(19).collect::<String>()}</time>
                                        " " <strong>{e.actor}</strong> " " {e.action} " " {e.target}
                                        " — " {e.outcome.clone()}
                                    </li>
                                }).collect_view()}
                            </ol>
                            <p><a href="/audit">"Open the audit log"</a></p>
                        }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
        <section class="card" aria-labelledby="status-h">
            <h2 id="status-h">"What works today"</h2>
            <ul>
                <li>"Passkey sign-in, sessions and the tamper-evident audit log: built."</li>
                <li>"Clients, keys, certificates, pin sets, rate limits, gates and admin management: not built yet (their pages say so)."</li>
                <li>"The expiry timeline of certificates and pin sets will appear here once certificates are built."</li>
            </ul>
        </section>
    }
}
