//! `/keys`: JWT signing key sets. Each set shows its keys' phases on a timeline (next → active
//! → retired → removed, projected phases dashed), the rotation job's plan, the published JWKS
//! (downloadable as `application/jwk-set+json`), "Rotate now" and the emergency revoke.

use leptos::prelude::*;
use leptos_meta::Title;
use policy::access::{Permission, Role};
use policy::keys::{
    in_flight_until_ms, in_flight_window_s, KeyState, PlanStep, MAX_LEEWAY_S,
    MAX_ROTATION_PERIOD_S, MAX_TOKEN_LIFETIME_S, MIN_CACHE_WINDOW_S, MIN_LEEWAY_S,
    MIN_TOKEN_LIFETIME_S,
};

use crate::api::keys::{
    list_key_sets, CreateKeySet, KeyInfo, KeySetInfo, RevokeSigningKey, RotateSigningKey, ServedBy,
    UpdateKeySet,
};
use crate::components::access::{Can, Me};
use crate::components::forms::{action_result, confirm};
use crate::components::passkey::confirm_then;
use crate::components::time::{duration, relative, utc};

const DAY_S: i64 = 86_400;

fn keys_count(n: usize) -> String {
    if n == 1 {
        "1 key".to_owned()
    } else {
        format!("{n} keys")
    }
}

fn short(kid: &str) -> String {
    kid.chars().take(10).collect::<String>() + "…"
}

/// "served by 2 of 3 gates; waiting for edge-3": a next key takes over only once every gate
/// holds it.
fn served_by(s: &ServedBy) -> impl IntoView {
    let total = s.serving.len() + s.behind.len();
    let text = match (total, s.behind.is_empty()) {
        (0, _) => "no gate enrolled".to_owned(),
        (n, true) => format!("served by {n} of {n} gate{}", if n == 1 { "" } else { "s" }),
        (n, false) => format!(
            "served by {} of {n} gates; takes over only once {} serve{} it too",
            s.serving.len(),
            s.behind.join(", "),
            if s.behind.len() == 1 { "s" } else { "" }
        ),
    };
    view! { <small class="served-by">{" "}{text}</small> }
}

#[component]
pub fn KeysPage() -> impl IntoView {
    let create = ServerAction::<CreateKeySet>::new();
    let update = ServerAction::<UpdateKeySet>::new();
    let rotate = ServerAction::<RotateSigningKey>::new();
    let revoke = ServerAction::<RevokeSigningKey>::new();
    let step_error = RwSignal::new(None::<String>);
    let data = Resource::new(
        move || {
            (
                create.version().get(),
                update.version().get(),
                rotate.version().get(),
                revoke.version().get(),
            )
        },
        |_| list_key_sets(),
    );
    // What the signed-in role may change, awaited with the key sets: a `Can` inside the
    // suspended view would add suspense boundaries whose order on the server depends on timing,
    // and hydration fails when it differs from the browser's.
    let me = use_context::<Me>();
    let name = RwSignal::new("access-tokens".to_string());
    let alg = RwSignal::new("EdDSA".to_string());
    let period = RwSignal::new("90".to_string());
    let cache = RwSignal::new("60".to_string());
    let lifetime = RwSignal::new("60".to_string());
    let leeway = RwSignal::new("60".to_string());
    let auto = RwSignal::new(true);
    let on_create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateKeySet {
            name: name.get_untracked(),
            alg: alg.get_untracked(),
            rotation_days: period.get_untracked(),
            cache_window_min: cache.get_untracked(),
            max_token_lifetime_min: lifetime.get_untracked(),
            leeway_s: leeway.get_untracked(),
            auto_rotate: auto.get_untracked(),
        });
    };

    view! {
        <Title text="Signing keys · Palisade"/>
        <h1>"Signing keys"</h1>
        <p class="lead">
            "Keys that sign access tokens, in sets with one JWKS each. A new key is published as next at least the "
            "set's cache window before it signs, so every relying party has it cached; a retired key stays published "
            "until every token it signed has expired (longest lifetime + leeway). kid = RFC 7638 thumbprint."
        </p>
        {move || step_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        {action_result(rotate, |m| m)}
        {action_result(revoke, |m| m)}
        {action_result(update, |_| "Settings saved.".to_owned())}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let role = match me { Some(Me(r)) => r.await.ok().map(|a| a.role), None => None };
                match data.await {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(sets) if sets.is_empty() => view! {
                        <p>"No key set yet."{role.is_some_and(|r| r.allows(Permission::KeysWrite)).then_some(" Create one below.")}</p>
                    }.into_any(),
                    Ok(sets) => sets.into_iter().map(|s| view! { <KeySetCard set=s rotate=rotate revoke=revoke update=update step_error=step_error role=role/> }).collect_view().into_any(),
                }
            })}
        </Transition>
        <Can p=Permission::KeysWrite>
        <section class="card" aria-labelledby="new-set-h">
            <h2 id="new-set-h">"New key set"</h2>
            <form on:submit=on_create>
                <div class="inline-form">
                    <div class="field"><label for="k-name">"Key set name"</label>
                        <input id="k-name" type="text" required bind:value=name/></div>
                    <div class="field"><label for="k-alg">"Algorithm"</label>
                        <select id="k-alg" bind:value=alg>
                            <option value="EdDSA">"EdDSA (Ed25519): small, fast"</option>
                            <option value="ES256">"ES256 (ECDSA P-256)"</option>
                            <option value="RS256">"RS256 (RSA 2048): widest support"</option>
                        </select></div>
                    <div class="field"><label for="k-period">"Rotation period (days)"</label>
                        <input id="k-period" type="number" min="1" max={MAX_ROTATION_PERIOD_S / DAY_S} bind:value=period/></div>
                    <div class="field"><label for="k-cache">"JWKS cache window (minutes)"</label>
                        <input id="k-cache" type="number" min={MIN_CACHE_WINDOW_S / 60} bind:value=cache/></div>
                    <div class="field"><label for="k-lifetime">"Longest token lifetime (minutes)"</label>
                        <input id="k-lifetime" type="number" min={MIN_TOKEN_LIFETIME_S / 60} max={MAX_TOKEN_LIFETIME_S / 60} bind:value=lifetime/></div>
                    <div class="field"><label for="k-leeway">"Clock leeway (seconds)"</label>
                        <input id="k-leeway" type="number" min=MIN_LEEWAY_S max=MAX_LEEWAY_S bind:value=leeway/></div>
                    <div class="field checkbox"><input id="k-auto" type="checkbox" bind:checked=auto/>
                        <label for="k-auto">"Rotate automatically"</label></div>
                </div>
                <button type="submit" disabled=move || create.pending().get()>"Create key set"</button>
                {action_result(create, |s| format!("Created {} with its first key {} (active).", s.name, s.keys.first().map(|k| short(&k.kid)).unwrap_or_default()))}
            </form>
        </section>
        </Can>
    }
}

/// What a revoke means for tokens already signed, in exact time windows (the count of tokens
/// is not known to the console: the gates will report issuance). A token is accepted until its
/// expiry plus the set's leeway, so the window is the one the domain keeps a retired key
/// published for: [`in_flight_window_s`] (longest token lifetime + leeway).
fn in_flight(k: &KeyInfo, set: &KeySetInfo) -> String {
    let window = in_flight_window_s(set.max_token_lifetime_s, set.leeway_s);
    let window_text = format!(
        "longest token lifetime {} + leeway {}",
        duration(set.max_token_lifetime_s),
        duration(set.leeway_s)
    );
    match k.state {
        KeyState::Next => "It has never signed a token (it was never active): no token is in flight.".to_owned(),
        KeyState::Active => format!(
            "It is the active key: every token it signed in the last {} ({window_text}; since {}) may still be in flight and \
             will fail verification once gates drop the key. A new key takes over at once. The console does not count \
             issued tokens (gates will report issuance), so the number is not known.",
            duration(window),
            utc((set.now_ms - window * 1000).max(k.activated_at_ms.unwrap_or(set.now_ms)))
        ),
        _ => {
            let retired = k.retired_at_ms.unwrap_or(set.now_ms);
            let until = in_flight_until_ms(retired, set.max_token_lifetime_s, set.leeway_s);
            if until <= set.now_ms {
                format!("It stopped signing at {}; every token it signed was accepted until {} at the latest: none is in flight.", utc(retired), utc(until))
            } else {
                format!(
                    "It stopped signing at {}; tokens it signed before then are accepted until {} ({window_text} after that) and \
                     will fail verification after the revoke. The number is not known to the console.",
                    utc(retired),
                    utc(until)
                )
            }
        }
    }
}

#[component]
fn KeySetCard(
    set: KeySetInfo,
    rotate: ServerAction<RotateSigningKey>,
    revoke: ServerAction<RevokeSigningKey>,
    update: ServerAction<UpdateKeySet>,
    step_error: RwSignal<Option<String>>,
    /// The signed-in admin's role (`None`: unknown), for what the card offers to change.
    role: Option<Role>,
) -> impl IntoView {
    let may = move |p: Permission| role.is_some_and(|r| r.allows(p));
    let heading = format!("{} ({})", set.name, set.alg);
    let hid = crate::pages::anchor("set", &set.id);
    let hid_h2 = hid.clone();
    let next = set.keys.iter().find(|k| k.state == KeyState::Next).cloned();
    let rotate_label = match &next {
        Some(n) if n.created_at_ms + set.cache_window_s * 1000 <= set.now_ms => format!(
            "Rotate now: key {} becomes active, the current key is retired and stays published {} more",
            short(&n.kid),
            duration(in_flight_window_s(set.max_token_lifetime_s, set.leeway_s))
        ),
        Some(n) if n.promote_at_ms.is_some() => format!(
            "A rotation is under way: key {} takes over automatically at {} (after the cache window of {}), once every enrolled gate serves it",
            short(&n.kid),
            utc(n.promote_at_ms.unwrap_or(set.now_ms).max(n.created_at_ms + set.cache_window_s * 1000)),
            duration(set.cache_window_s)
        ),
        Some(n) => format!(
            "Rotate now is refused until {} (the next key {} must be published for the cache window of {} first)",
            utc(n.created_at_ms + set.cache_window_s * 1000),
            short(&n.kid),
            duration(set.cache_window_s)
        ),
        None => format!(
            "Rotate now: publish a new next key in the JWKS; it takes over automatically after the cache window ({}) once every enrolled gate serves it, and the current key stays published until its tokens expire",
            duration(set.cache_window_s)
        ),
    };
    let confirm_text = format!("{rotate_label}. Continue?");
    let (sid, ver) = (set.id.clone(), set.version.to_string());
    let download = format!("/download/jwks/{}", set.name);
    let file = format!("{}.jwks.json", set.name);
    let jwks = set.jwks.clone();
    let published = set.keys.iter().filter(|k| k.state.is_published()).count();
    let settings = SettingsForm {
        set: set.clone(),
        update,
    };
    view! {
        <section class="card" aria-labelledby=hid.clone()>
            <h2 id=hid_h2>{heading}</h2>
            <p class="help">{format!(
                "Rotation every {}, {}; cache window {}; longest token lifetime {} + leeway {}. {} published.",
                duration(set.rotation_period_s),
                if set.auto_rotate { "automatic" } else { "manual only" },
                duration(set.cache_window_s),
                duration(set.max_token_lifetime_s),
                duration(set.leeway_s),
                keys_count(published)
            )}</p>
            <KeyTimeline set=set.clone()/>
            <h3>"What happens next"</h3>
            {if set.plan.is_empty() {
                view! { <p class="help">"Nothing is scheduled."</p> }.into_any()
            } else {
                view! { <ol class="plan">{set.plan.iter().map(|p| view! {
                    <li><strong>{utc(p.at_ms)}</strong>" ("{relative(p.at_ms, set.now_ms)}"): "{p.description.clone()}
                        {(!set.auto_rotate).then_some(if may(Permission::KeysRotate) { " (automatic rotation is off: use Rotate now)" } else { " (automatic rotation is off)" })}</li>
                }).collect_view()}</ol> }.into_any()
            }}
            {may(Permission::KeysRotate).then(|| view! {
                <button type="button" on:click=move |_| {
                    if confirm(&confirm_text) {
                        rotate.dispatch(RotateSigningKey { id: sid.clone(), version: ver.clone() });
                    }
                }>{format!("Rotate {} now", set.name)}</button>
                <p class="help">{rotate_label.clone()}</p>
            })}
            <div class="table-wrap"><table>
                <caption>{format!("Keys of {}", set.name)}</caption>
                <thead><tr><th scope="col">"kid"</th><th scope="col">"State"</th><th scope="col">"Created"</th>
                    <th scope="col">"Active from"</th><th scope="col">"Retired / removed / revoked"</th><th scope="col">"Actions"</th></tr></thead>
                <tbody>
                    {set.keys.iter().rev().map(|k| {
                        let live = k.state.is_published();
                        let warning = in_flight(k, &set);
                        let (sid, ver, kid, key_id) = (set.id.clone(), set.version.to_string(), k.kid.clone(), k.id.clone());
                        view! {
                            <tr>
                                <td><code title=k.kid.clone()>{short(&k.kid)}</code></td>
                                <td><span class=format!("badge key-{}", k.state)>{k.state.as_str()}</span>
                                    {k.served_by.as_ref().map(served_by)}</td>
                                <td>{utc(k.created_at_ms)}</td>
                                <td>{k.activated_at_ms.map(utc).unwrap_or_else(|| "—".into())}</td>
                                <td>{match (k.revoked_at_ms, k.retired_at_ms) {
                                    (Some(t), _) => format!("revoked {}: {}", utc(t), k.revoke_reason.clone().unwrap_or_default()),
                                    (None, Some(t)) => match k.removed_at_ms {
                                        Some(r) => format!("retired {}, removed {}", utc(t), utc(r)),
                                        None => format!("retired {}", utc(t)),
                                    },
                                    _ => "—".into(),
                                }}</td>
                                <td>{(live && may(Permission::KeysRevoke)).then(|| view! {
                                    <button type="button" class="danger small" on:click=move |_| {
                                        let message = format!("Emergency revoke of key {}: it leaves the JWKS now and its private key is erased.\n\n{warning}\n\nWhy is it revoked? (goes into the audit log; your passkey confirms it next)", short(&kid));
                                        if let Ok(Some(reason)) = window().prompt_with_message(&message) {
                                            let args = RevokeSigningKey { id: sid.clone(), version: ver.clone(), key_id: key_id.clone(), reason };
                                            confirm_then(step_error, move || { revoke.dispatch(args); });
                                        }
                                    }>{format!("Revoke {}", short(&k.kid))}</button>
                                })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table></div>
            <details>
                <summary>{format!("JWKS of {} ({})", set.name, keys_count(published))}</summary>
                <pre class="jwks" aria-label=format!("JWKS of {}", set.name)>{jwks}</pre>
                <a href=download download=file>{format!("Download {}.jwks.json", set.name)}</a>
            </details>
            {may(Permission::KeysWrite).then(|| settings.view())}
        </section>
    }
}

/// The set's timing, editable.
struct SettingsForm {
    set: KeySetInfo,
    update: ServerAction<UpdateKeySet>,
}

impl SettingsForm {
    fn view(self) -> impl IntoView {
        let s = self.set;
        let update = self.update;
        let period = RwSignal::new((s.rotation_period_s / 86_400).to_string());
        let cache = RwSignal::new((s.cache_window_s / 60).to_string());
        let lifetime = RwSignal::new((s.max_token_lifetime_s / 60).to_string());
        let leeway = RwSignal::new(s.leeway_s.to_string());
        let auto = RwSignal::new(s.auto_rotate);
        let p = format!("s-{}", s.id);
        let (id, version) = (s.id.clone(), s.version.to_string());
        let on_submit = move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            update.dispatch(UpdateKeySet {
                id: id.clone(),
                version: version.clone(),
                rotation_days: period.get_untracked(),
                cache_window_min: cache.get_untracked(),
                max_token_lifetime_min: lifetime.get_untracked(),
                leeway_s: leeway.get_untracked(),
                auto_rotate: auto.get_untracked(),
            });
        };
        view! {
            <details>
                <summary>{format!("Settings of {}", s.name)}</summary>
                <form on:submit=on_submit>
                    <div class="inline-form">
                        <div class="field"><label for=format!("{p}-period")>"Rotation period (days)"</label>
                            <input id=format!("{p}-period") type="number" bind:value=period/></div>
                        <div class="field"><label for=format!("{p}-cache")>"JWKS cache window (minutes)"</label>
                            <input id=format!("{p}-cache") type="number" bind:value=cache/></div>
                        <div class="field"><label for=format!("{p}-life")>"Longest token lifetime (minutes)"</label>
                            <input id=format!("{p}-life") type="number" bind:value=lifetime/></div>
                        <div class="field"><label for=format!("{p}-leeway")>"Clock leeway (seconds)"</label>
                            <input id=format!("{p}-leeway") type="number" bind:value=leeway/></div>
                        <div class="field checkbox"><input id=format!("{p}-auto") type="checkbox" bind:checked=auto/>
                            <label for=format!("{p}-auto")>"Rotate automatically"</label></div>
                    </div>
                    <button type="submit">{format!("Save settings of {}", s.name)}</button>
                </form>
            </details>
        }
    }
}

const X0: f64 = 200.0;
const X1: f64 = 860.0;
const ROW: f64 = 26.0;
const TOP: f64 = 30.0;

/// Each key's phases on one time axis; projected phases (from the plan) are drawn dashed.
#[component]
fn KeyTimeline(set: KeySetInfo) -> impl IntoView {
    let now = set.now_ms;
    // Keys still published, plus the most recent removed/revoked ones for context.
    let mut keys: Vec<KeyInfo> = set.keys.clone();
    keys.sort_by_key(|k| k.created_at_ms);
    let gone: Vec<usize> = keys
        .iter()
        .enumerate()
        .filter(|(_, k)| !k.state.is_published())
        .map(|(i, _)| i)
        .collect();
    let drop = gone.len().saturating_sub(2);
    let hidden: Vec<usize> = gone.into_iter().take(drop).collect();
    let keys: Vec<KeyInfo> = keys
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !hidden.contains(i))
        .map(|(_, k)| k)
        .collect();
    let planned = |step: PlanStep, id: &str| {
        set.plan
            .iter()
            .find(|p| p.step == step && (id.is_empty() || p.key_id == id))
            .map(|p| p.at_ms)
    };
    let promote_any = set
        .plan
        .iter()
        .find(|p| p.step == PlanStep::Promote)
        .map(|p| p.at_ms);
    let start = keys
        .iter()
        .map(|k| k.created_at_ms)
        .min()
        .unwrap_or(now)
        .min(now - 3_600_000);
    let end = set
        .plan
        .iter()
        .map(|p| p.at_ms)
        .max()
        .unwrap_or(now)
        .max(now + set.rotation_period_s * 1000 / 4)
        + (set.cache_window_s * 1000);
    let span = (end - start).max(1) as f64;
    let x = move |t: i64| X0 + (t.clamp(start, end) - start) as f64 / span * (X1 - X0);
    let mut rows = Vec::new();
    let mut summary = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let end_of_life = k.revoked_at_ms.or(k.removed_at_ms);
        // (from, to, phase, projected)
        let mut segs: Vec<(i64, i64, &'static str, bool)> = Vec::new();
        let act = k.activated_at_ms.map(|t| (t, false)).or_else(|| {
            (k.state == KeyState::Next)
                .then(|| planned(PlanStep::Promote, &k.id).map(|t| (t, true)))
                .flatten()
        });
        let ret = k.retired_at_ms.map(|t| (t, false)).or_else(|| {
            (k.state == KeyState::Active)
                .then(|| promote_any.map(|t| (t, true)))
                .flatten()
        });
        let rem = k
            .removed_at_ms
            .map(|t| (t, false))
            .or_else(|| planned(PlanStep::Remove, &k.id).map(|t| (t, true)));
        let stop = |t: i64| end_of_life.map_or(t, |e| t.min(e));
        let next_end = act.map(|a| a.0).or(end_of_life).unwrap_or(end);
        segs.push((
            k.created_at_ms,
            stop(next_end),
            "next",
            k.state == KeyState::Next && act.is_none(),
        ));
        if let Some((a, proj)) = act {
            let to = ret.map(|r| r.0).or(end_of_life).unwrap_or(end);
            segs.push((
                a,
                stop(to),
                "active",
                proj || (k.state == KeyState::Active && ret.is_none()),
            ));
            if let Some((r, proj_r)) = ret {
                let to = rem.map(|r| r.0).or(end_of_life).unwrap_or(end);
                segs.push((r, stop(to), "retired", proj_r || rem.is_none_or(|m| m.1)));
            }
        }
        summary.push(format!("key {} {}", short(&k.kid), k.state));
        rows.push(view! {
            <g>
                <text class="tick-label" x=X0 - 6.0 y=y + 15.0 text-anchor="end">{format!("{} ({})", short(&k.kid), k.state)}</text>
                {segs.into_iter().filter(|(a, b, _, _)| b > a).map(|(a, b, phase, projected)| view! {
                    <rect class=format!("phase-{phase}{}", if projected { " projected" } else { "" }) x=x(a) y=y + 4.0 width=(x(b) - x(a)).max(1.0) height=ROW - 8.0>
                        <title>{format!("{phase}: {} → {}{}", utc(a), utc(b), if projected { " (planned)" } else { "" })}</title>
                    </rect>
                }).collect_view()}
                {k.revoked_at_ms.map(|t| view! { <text class="revoked-mark" x=x(t) y=y + 17.0 text-anchor="middle">"✕"</text> })}
            </g>
        }.into_any());
    }
    // The key the job will create, once it is planned.
    if let Some(created) = set
        .plan
        .iter()
        .find(|p| p.step == PlanStep::CreateNext)
        .map(|p| p.at_ms)
    {
        let y = TOP + ROW * keys.len() as f64;
        let promoted = set
            .plan
            .iter()
            .find(|p| p.step == PlanStep::Promote && p.key_id.is_empty())
            .map(|p| p.at_ms);
        let next_end = promoted.unwrap_or(end);
        summary.push(format!("a new key planned for {}", utc(created)));
        rows.push(view! {
            <g>
                <text class="tick-label" x=X0 - 6.0 y=y + 15.0 text-anchor="end">"new key (planned)"</text>
                <rect class="phase-next projected" x=x(created) y=y + 4.0 width=(x(next_end) - x(created)).max(1.0) height=ROW - 8.0>
                    <title>{format!("next: {} → {} (planned)", utc(created), utc(next_end))}</title>
                </rect>
                {promoted.map(|p| view! {
                    <rect class="phase-active projected" x=x(p) y=y + 4.0 width=(x(end) - x(p)).max(1.0) height=ROW - 8.0>
                        <title>{format!("active from {} (planned)", utc(p))}</title>
                    </rect>
                })}
            </g>
        }.into_any());
    }
    let height = TOP + ROW * rows.len().max(1) as f64 + 24.0;
    let label = format!(
        "Key timeline of {}: {}. From {} to {}.",
        set.name,
        summary.join(", "),
        utc(start),
        utc(end)
    );
    view! {
        <svg class="chart key-timeline" viewBox=format!("0 0 880 {height}") role="img" aria-label=label>
            <line class="now" x1=x(now) x2=x(now) y1=TOP - 10.0 y2=height - 20.0/>
            <text class="tick-label" x=x(now) y=TOP - 14.0 text-anchor="middle">"now"</text>
            <text class="tick-label" x=X0 y=height - 6.0>{utc(start)}</text>
            <text class="tick-label" x=X1 y=height - 6.0 text-anchor="end">{utc(end)}</text>
            {rows}
        </svg>
        <p class="legend">
            <span class="key phase-next">"next (published, not signing)"</span>
            <span class="key phase-active">"active (signing)"</span>
            <span class="key phase-retired">"retired (published until its tokens expire)"</span>
            <span class="key projected">"planned"</span>
        </p>
    }
}
