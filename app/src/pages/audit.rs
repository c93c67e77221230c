//! `/audit`: the newest events of the tamper-evident log and an on-demand chain verification.
//! (Search, filters and export come with the audit explorer issue.)

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::audit::{list_audit_events, verify_audit_chain};
use crate::pages::use_hydrated;

#[component]
pub fn AuditPage() -> impl IntoView {
    let hydrated = use_hydrated();
    let events = OnceResource::new(list_audit_events(200));
    let verify = Action::new(|_: &()| verify_audit_chain());
    view! {
        <Title text="Audit · Palisade"/>
        <h1>"Audit log"</h1>
        <p class="lead">
            "Every change and every sign-in attempt, newest first. Each event carries the hash of the one "
            "before it, so an edited, deleted or reordered row breaks the chain."
        </p>
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
        <Suspense fallback=|| view! { <p>"Loading events…"</p> }>
            {move || Suspend::new(async move {
                match events.await {
                    Ok(list) => view! {
                        <div class="table-wrap">
                        <table>
                            <caption>{format!("The newest {} events", list.len())}</caption>
                            <thead><tr>
                                <th scope="col">"#"</th>
                                <th scope="col">"Time (UTC)"</th>
                                <th scope="col">"Actor"</th>
                                <th scope="col">"IP"</th>
                                <th scope="col">"Action"</th>
                                <th scope="col">"Target"</th>
                                <th scope="col">"Outcome"</th>
                                <th scope="col">"Details"</th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|e| view! {
                                    <tr>
                                        <td class="num">{e.seq}</td>
                                        <td><time datetime=e.at.clone()>{e.at.clone()}</time></td>
                                        <td>{e.actor}</td>
                                        <td title=e.user_agent.unwrap_or_default()>{e.ip.unwrap_or_default()}</td>
                                        <td><code>{e.action}</code></td>
                                        <td>{e.target}</td>
                                        <td><span class=format!("badge outcome-{}", e.outcome)>{e.outcome.clone()}</span></td>
                                        <td><code class="details">{e.details}</code></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                    }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}
