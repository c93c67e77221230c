//! Areas whose issue has not landed yet: each says so plainly and what it will hold.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotBuilt(title: &'static str, what: &'static str) -> impl IntoView {
    view! {
        <Title text=format!("{title} · Palisade")/>
        <h1>{title}</h1>
        <section class="card not-built" aria-label="Status">
            <p><strong>"Not built yet."</strong>" Nothing on this page works today."</p>
            <p>{what}</p>
        </section>
    }
}

pub fn admins() -> impl IntoView {
    view! { <NotBuilt title="Admins" what="Inviting admins, roles, passkeys per admin, and disabling an admin (which ends their sessions)."/> }
}
