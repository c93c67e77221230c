//! What the signed-in admin's role may do, for hiding what it may not: the shell loads the
//! admin once and shares it; [`Can`] shows its children only when the role holds a
//! permission. Hiding is a courtesy: the server refuses anyway (`crate::access`).

use leptos::prelude::*;
use policy::access::Permission;

use crate::api::auth::AdminView;
use crate::error::AppError;

/// The signed-in admin, loaded once by the shell.
#[derive(Clone, Copy)]
pub struct Me(pub OnceResource<Result<AdminView, AppError>>);

/// Shows `children` only when the signed-in admin's role holds `p` (nothing while loading or
/// outside the shell).
#[component]
pub fn Can(p: Permission, children: ChildrenFn) -> impl IntoView {
    let me = use_context::<Me>();
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let children = children.clone();
                Suspend::new(async move {
                    let allowed = match me {
                        Some(Me(r)) => r.await.is_ok_and(|a| a.role.allows(p)),
                        None => false,
                    };
                    allowed.then(|| children())
                })
            }}
        </Suspense>
    }
}
