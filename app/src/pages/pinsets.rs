//! `/pin-sets`: pin sets per hostname with the linter, exports for every platform, app
//! releases, and the pin tool.

use leptos::prelude::*;
use leptos_meta::Title;
use policy::access::{Permission, Role};
use policy::certs::AppPlatform;

use crate::api::pinsets::{
    compute_pins, export_pinset, list_pinsets, list_releases, probe_pins, AddPin, ExportForRelease,
    ExportView, FoundPinView, PinsetView, RemovePin, SetReleaseSupported, UpdatePinset,
};
use crate::components::access::{Can, Me};
use crate::components::forms::{action_result, confirm, Field};

/// (value, tab label) of each export format.
const FORMATS: &[(&str, &str)] = &[
    ("android", "Android"),
    ("ios", "iOS"),
    ("trustkit", "TrustKit"),
    ("okhttp", "OkHttp"),
    ("json", "JSON"),
];

#[component]
pub fn PinSetsPage() -> impl IntoView {
    let update = ServerAction::<UpdatePinset>::new();
    let add = ServerAction::<AddPin>::new();
    let remove = ServerAction::<RemovePin>::new();
    let release = ServerAction::<ExportForRelease>::new();
    let supported = ServerAction::<SetReleaseSupported>::new();
    let sets = Resource::new(
        move || {
            (
                update.version().get(),
                add.version().get(),
                remove.version().get(),
                release.version().get(),
            )
        },
        |_| list_pinsets(),
    );
    let releases = Resource::new(
        move || (release.version().get(), supported.version().get()),
        |_| list_releases(),
    );
    // What the signed-in role may change, awaited with each list: a `Can` inside these
    // suspended views would add suspense boundaries whose order on the server depends on which
    // list loads first, and hydration fails when it differs from the browser's.
    let me = use_context::<Me>();
    view! {
        <Title text="Pin sets · Palisade"/>
        <h1>"Pin sets"</h1>
        <p class="lead">
            "What your apps pin, per hostname: the current key and a real backup key, so a certificate rotation "
            "never bricks a shipped app. Exports are refused while the linter reports an error."
        </p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let role = match me { Some(Me(r)) => r.await.ok().map(|a| a.role), None => None };
                match sets.await {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <section class="card"><p>"No pin set yet: a hostname gets one when a certificate is issued or imported for it on the "
                            <a href="/certificates">"Certificates"</a>" page."</p></section>
                    }.into_any(),
                    Ok(list) => list.into_iter().map(|s| view! {
                        <PinsetCard set=s update=update add=add remove=remove release=release role=role/>
                    }).collect_view().into_any(),
                }
            })}
        </Transition>
        <section class="card" aria-labelledby="releases-h">
            <h2 id="releases-h">"App releases"</h2>
            <p class="help">"Each release records the pin set it shipped. The rotation planner protects every supported release."</p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let role = match me { Some(Me(r)) => r.await.ok().map(|a| a.role), None => None };
                    let may_write = role.is_some_and(|r| r.allows(Permission::PinsetsWrite));
                    let may_export = role.is_some_and(|r| r.allows(Permission::PinsetsExport));
                    match releases.await {
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p>"No release recorded yet."{may_export.then_some(" Use “Export for release” above.")}</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-wrap"><table>
                                <caption>"Recorded releases, newest first"</caption>
                                <thead><tr>
                                    <th scope="col">"App"</th><th scope="col">"Platform"</th><th scope="col">"Bundle / package"</th>
                                    <th scope="col">"Version"</th><th scope="col">"Released"</th><th scope="col">"Hostname"</th>
                                    <th scope="col">"Pin-set version"</th><th scope="col">"Pins shipped"</th><th scope="col">"Supported"</th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|r| {
                                        let next = if r.supported { "false" } else { "true" };
                                        let button = if r.supported { format!("Mark {} {} unsupported", r.app, r.version) } else { format!("Mark {} {} supported", r.app, r.version) };
                                        let release_id = r.id.clone();
                                        view! {
                                            <tr>
                                                <td>{r.app.clone()}</td><td>{r.platform.label()}</td><td><code>{r.bundle_id.clone()}</code></td>
                                                <td>{r.version.clone()}</td><td>{r.released_on.clone()}</td><td>{r.hostname.clone()}</td>
                                                <td class="num">{r.pinset_version}</td>
                                                <td>{r.pins.iter().map(|p| view! { <code class="pin">{p.clone()}</code> }).collect_view()}</td>
                                                <td>
                                                    {if r.supported { "yes" } else { "no" }}
                                                    {may_write.then(|| view! {
                                                        <ActionForm action=supported attr:class="inline">
                                                            <input type="hidden" name="id" value=release_id/>
                                                            <input type="hidden" name="supported" value=next/>
                                                            <button type="submit" class="secondary small">{button}</button>
                                                        </ActionForm>
                                                    })}
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table></div>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <PinTool/>
    }
}

#[component]
fn PinsetCard(
    set: PinsetView,
    update: ServerAction<UpdatePinset>,
    add: ServerAction<AddPin>,
    remove: ServerAction<RemovePin>,
    release: ServerAction<ExportForRelease>,
    /// The signed-in admin's role (`None`: unknown), for what the card offers to change.
    role: Option<Role>,
) -> impl IntoView {
    let may = move |p: Permission| role.is_some_and(|r| r.allows(p));
    let host = StoredValue::new(set.hostname.clone());
    let slug = StoredValue::new(slug(&set.hostname));
    let version = StoredValue::new(set.version.to_string());
    let expires_on = StoredValue::new(set.expires_on.clone());
    let format = RwSignal::new("android".to_string());
    let export = Resource::new(
        move || format.get(),
        move |f| export_pinset(host.get_value(), f),
    );
    let errors = set.findings.iter().filter(|f| f.level == "error").count();
    let rows = set
        .pins
        .clone()
        .into_iter()
        .map(|p| {
            view! {
                <tr>
                    <td>{p.label.clone()}</td><td>{p.role.replace('_', " ")}</td><td>{p.custody.replace('_', " ")}</td>
                    <td><code>{p.pin.clone()}</code></td><td>{if p.in_live_chain { "yes" } else { "no (backup)" }}</td>
                    <td>
                        {may(Permission::PinsetsWrite).then(|| view! {
                            <button type="button" class="secondary small" on:click={
                                let pin = p.pin.clone();
                                let label = p.label.clone();
                                move |_| {
                                    let message = format!(
                                        "Remove the pin \"{label}\" from the pin set of {}? Releases exported from now on will not trust this key; releases already shipped keep their pins.",
                                        host.get_value()
                                    );
                                    if confirm(&message) {
                                        remove.dispatch(RemovePin { hostname: host.get_value(), pin: pin.clone(), version: version.get_value() });
                                    }
                                }
                            }>{format!("Remove {}", p.label)}</button>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card pinset" aria-labelledby=format!("ps-{}", slug.get_value())>
            <h2 id=format!("ps-{}", slug.get_value())>{format!("{} — version {}", set.hostname, set.version)}</h2>
            <div class="table-wrap"><table>
                <caption>{format!("Pins of {}", set.hostname)}</caption>
                <thead><tr><th scope="col">"Label"</th><th scope="col">"Role"</th><th scope="col">"Private key"</th>
                    <th scope="col">"SPKI pin (SHA-256)"</th><th scope="col">"In the live chain"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                <tbody>
                    {rows}
                </tbody>
            </table></div>
            <h3>"Linter"</h3>
            {if set.findings.is_empty() {
                view! { <p class="ok">"No findings: this set has a real backup pin and no placeholder."</p> }.into_any()
            } else {
                view! {
                    <ul class="findings">
                        {set.findings.iter().map(|f| view! {
                            <li class=format!("finding {}", f.level)><strong>{if f.level == "error" { "Error" } else { "Warning" }}</strong>": " {f.message.clone()}</li>
                        }).collect_view()}
                    </ul>
                    {(errors > 0).then(|| view! { <p class="error">"Export is refused until the errors above are fixed."</p> })}
                }.into_any()
            }}
            <p class="help">{format!(
                "Subdomains {}; pins expire on {}.",
                if set.include_subdomains { "included" } else { "not included" },
                set.expires_on
            )}</p>
            {may(Permission::PinsetsWrite).then(|| view! {
            <details>
                <summary>"Settings and pins"</summary>
                <ActionForm action=update attr:class="inline-form">
                    <input type="hidden" name="hostname" value=host.get_value()/>
                    <input type="hidden" name="version" value=version.get_value()/>
                    <div class="field checkbox">
                        <input id=format!("sub-{}", slug.get_value()) type="checkbox" name="include_subdomains" value="on" checked=set.include_subdomains/>
                        <label for=format!("sub-{}", slug.get_value())>"Include subdomains"</label>
                    </div>
                    <div class="field">
                        <label for=format!("exp-{}", slug.get_value())>"Pins expire on"</label>
                        <input id=format!("exp-{}", slug.get_value()) type="date" name="expires_on" value=expires_on.get_value() required/>
                    </div>
                    <button type="submit">"Save settings"</button>
                </ActionForm>
                {action_result(update, |s: PinsetView| format!("Saved: version {}.", s.version))}
                <ActionForm action=add attr:class="inline-form">
                    <input type="hidden" name="hostname" value=host.get_value()/>
                    <input type="hidden" name="version" value=version.get_value()/>
                    <input type="hidden" name="source" value="ca"/>
                    <input type="hidden" name="pin" value=""/>
                    <input type="hidden" name="label" value=""/>
                    <button type="submit" class="secondary">"Add the issuing CA's key"</button>
                </ActionForm>
                <ActionForm action=add attr:class="inline-form">
                    <input type="hidden" name="hostname" value=host.get_value()/>
                    <input type="hidden" name="version" value=version.get_value()/>
                    <input type="hidden" name="source" value="offline"/>
                    <Field label="Backup pin held offline" name="pin" placeholder="base64 SHA-256 SPKI pin"/>
                    <Field label="Label" name="label" placeholder="HSM backup key"/>
                    <button type="submit" class="secondary">"Add offline backup pin"</button>
                </ActionForm>
                {action_result(add, |s: PinsetView| format!("Added: version {}.", s.version))}
                {action_result(remove, |s: PinsetView| format!("Removed: version {}.", s.version))}
            </details>
            })}
            <h3>"Exports"</h3>
            <div role="tablist" aria-label=format!("Export formats for {}", set.hostname) class="tabs">
                {FORMATS.iter().map(|(value, label)| {
                    let value = *value;
                    view! {
                        <button type="button" role="tab" aria-selected=move || (format.get() == value).to_string()
                            on:click=move |_| format.set(value.to_string())>{*label}</button>
                    }
                }).collect_view()}
            </div>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match export.await {
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(e) => view! { <ExportPanel export=e/> }.into_any(),
                    }
                })}
            </Transition>
            {may(Permission::PinsetsExport).then(|| view! {
            <h3>"Export for release"</h3>
            <ActionForm action=release attr:class="inline-form">
                <input type="hidden" name="hostname" value=host.get_value()/>
                <Field label="App name" name="app_name" placeholder="Acme Banking"/>
                <div class="field">
                    <label for=format!("plat-{}", slug.get_value())>"Platform"</label>
                    <select id=format!("plat-{}", slug.get_value()) name="platform">
                        {AppPlatform::ALL.map(|p| view! { <option value=p.as_str()>{p.label()}</option> }).collect_view()}
                    </select>
                </div>
                <Field label="Bundle id or package name" name="bundle_id" placeholder="com.example.app"/>
                <Field label="App version" name="version" placeholder="1.4.0"/>
                <Field label="Release date" name="released_on" kind="date"/>
                <div class="field">
                    <label for=format!("fmt-{}", slug.get_value())>"File format"</label>
                    <select id=format!("fmt-{}", slug.get_value()) name="format">
                        {FORMATS.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                    </select>
                </div>
                <button type="submit">"Export for release"</button>
            </ActionForm>
            {move || release.value().get().map(|r| match r {
                Ok(e) => view! {
                    <p class="ok" role="status">{format!("Recorded the release of {}: it ships pin-set version {}.", e.hostname, e.pinset_version)}</p>
                    <ExportPanel export=e/>
                }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
            })}
        </section>
    }
}

#[component]
fn ExportPanel(export: ExportView) -> impl IntoView {
    view! {
        <div class="export" role="tabpanel" aria-label=format!("{} export", export.format)>
            <p class="help"><strong>"Expiry: "</strong>{export.expiry_note.clone()}</p>
            <pre class="export-text" aria-label=format!("{} file {}", export.format, export.filename)>{export.text.clone()}</pre>
            <a href=format!("/download/pinsets/{}/{}", export.hostname, export.format) download=export.filename.clone()>
                {format!("Download {}", export.filename)}
            </a>
        </div>
    }
}

#[component]
fn PinTool() -> impl IntoView {
    let input = RwSignal::new(String::new());
    let host = RwSignal::new(String::new());
    let compute = Action::new(|s: &String| compute_pins(s.clone()));
    let probe = Action::new(|s: &String| probe_pins(s.clone()));
    let render = |r: Option<Result<Vec<FoundPinView>, crate::error::AppError>>| {
        r.map(|r| match r {
            Ok(pins) if pins.is_empty() => view! { <p role="status">"No certificate or key found."</p> }.into_any(),
            Ok(pins) => view! {
                <ul class="found-pins" role="status">
                    {pins.into_iter().map(|p| view! { <li><code>{format!("sha256/{}", p.pin)}</code>" " {p.description}</li> }).collect_view()}
                </ul>
            }.into_any(),
            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <section class="card" aria-labelledby="tool-h">
            <h2 id="tool-h">"Pin tool"</h2>
            <p class="help">"Compute SPKI pins (RFC 7469) of certificates, CSRs, public or private keys. Nothing is stored."</p>
            <form class="stack-form" on:submit=move |ev| { ev.prevent_default(); compute.dispatch(input.get_untracked()); }>
                <label for="pin-input">"Certificate, CSR or key (PEM)"</label>
                <textarea id="pin-input" rows="6" bind:value=input></textarea>
                <button type="submit">"Compute pins"</button>
            </form>
            {move || render(compute.value().get())}
            <Can p=Permission::Probe>
                <p class="help">"Or fetch the chain a live server presents and compute its pins."</p>
                <form class="inline-form" on:submit=move |ev| { ev.prevent_default(); probe.dispatch(host.get_untracked()); }>
                    <div class="field">
                        <label for="pin-host">"Live server (host:port)"</label>
                        <input id="pin-host" type="text" placeholder="api.example.com:443" bind:value=host/>
                    </div>
                    <button type="submit" disabled=move || probe.pending().get()>{move || if probe.pending().get() { "Connecting…" } else { "Fetch chain pins" }}</button>
                </form>
                {move || render(probe.value().get())}
            </Can>
        </section>
    }
}

/// The id part of a pin set's card (`ps-<slug>`), so other pages can link to it.
pub fn slug(hostname: &str) -> String {
    hostname.replace('.', "-")
}
