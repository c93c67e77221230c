//! `/certificates`: the internal CA, issuing and rotating server certificates (with the
//! rotation planner), CSRs for an external CA, and importing a chain.

use leptos::form::FromFormData;
use leptos::prelude::*;
use leptos_meta::Title;
use policy::access::{Permission, Role};
use policy::certs::{
    server_validity_warnings, RotationTarget, CA_INTERMEDIATE_DEFAULT_DAYS, CA_MAX_DAYS,
    CA_ROOT_DEFAULT_DAYS, PUBLIC_CA_SCHEDULE, SERVER_DEFAULT_DAYS, SERVER_MAX_DAYS,
};

use crate::api::certs::{
    chain_download_path, create_csr, create_key_download, list_certs, plan_rotation, CertView,
    CreateCa, CreateIntermediateCa, ImportCert, IssueCert, RotateCert, UploadSignedCert,
};
use crate::components::access::Me;
use crate::components::forms::{action_result, confirm, Field};
use crate::components::passkey::{confirm_then, navigate};

/// Submits a form whose server fn always needs a passkey confirmation: reads the form's fields
/// into the server fn's arguments, confirms with a passkey, then dispatches; a failed
/// confirmation (or an unreadable form) is shown in `error` and nothing is sent.
fn submit_confirmed<T>(
    ev: leptos::ev::SubmitEvent,
    error: RwSignal<Option<String>>,
    dispatch: impl FnOnce(T) + 'static,
) where
    T: FromFormData + 'static,
{
    ev.prevent_default();
    match T::from_event(&ev) {
        Ok(args) => confirm_then(error, move || dispatch(args)),
        Err(e) => error.set(Some(format!("The form could not be read: {e}"))),
    }
}

/// The error of a passkey confirmation, as an alert.
fn step_error_view(error: RwSignal<Option<String>>) -> impl IntoView {
    move || {
        error
            .get()
            .map(|e| view! { <p class="error" role="alert">{e}</p> })
    }
}

#[component]
pub fn CertificatesPage() -> impl IntoView {
    let create_ca = ServerAction::<CreateCa>::new();
    let create_intermediate = ServerAction::<CreateIntermediateCa>::new();
    let issue = ServerAction::<IssueCert>::new();
    let rotate = ServerAction::<RotateCert>::new();
    let import = ServerAction::<ImportCert>::new();
    let upload = ServerAction::<UploadSignedCert>::new();
    let csr = Action::new(|host: &String| create_csr(host.clone()));
    let data = Resource::new(
        move || {
            (
                create_ca.version().get(),
                create_intermediate.version().get(),
                issue.version().get(),
                rotate.version().get(),
                import.version().get(),
                upload.version().get(),
                csr.version().get(),
            )
        },
        |_| list_certs(),
    );
    let validity = RwSignal::new(SERVER_DEFAULT_DAYS.to_string());
    // Passkey-confirmation errors of the three actions that always need one.
    let ca_error = RwSignal::new(None::<String>);
    let intermediate_error = RwSignal::new(None::<String>);
    let import_error = RwSignal::new(None::<String>);
    // What the signed-in role may change, awaited with the certificates: a `Can` inside the
    // suspended view would add suspense boundaries whose order on the server depends on timing,
    // and hydration fails when it differs from the browser's.
    let me = use_context::<Me>();

    view! {
        <Title text="Certificates · Palisade"/>
        <h1>"Certificates"</h1>
        <p class="lead">
            "Issue server certificates from the internal CA. Every hostname keeps a next key, generated before it "
            "is needed, so its pin can ship in apps as the backup pin before the certificate changes."
        </p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let role = match me { Some(Me(r)) => r.await.ok().map(|a| a.role), None => None };
                let may_issue = role.is_some_and(|r| r.allows(Permission::CertsIssue));
                match data.await {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(v) => {
                        let has_ca = !v.cas.is_empty();
                        let cas = v.cas.clone();
                        view! {
                            <section class="card" aria-labelledby="ca-h">
                                <h2 id="ca-h">"Certificate authorities"</h2>
                                {if has_ca {
                                    view! { <CertTable certs=v.cas.clone() caption="Internal CAs"/> }.into_any()
                                } else {
                                    view! { <p>"No CA yet."{may_issue.then_some(" Create the internal root CA that will issue your server certificates.")}</p> }.into_any()
                                }}
                                {may_issue.then(|| view! {
                                    <form class="inline-form" on:submit=move |ev| submit_confirmed(ev, ca_error, move |args: CreateCa| { create_ca.dispatch(args); })>
                                        <Field label="CA common name" name="common_name" value="Palisade Internal Root CA"/>
                                        <KeyTypeSelect id="ca-key-type"/>
                                        <CaValidity id="ca-validity--days-" label="CA validity (days)" default=CA_ROOT_DEFAULT_DAYS/>
                                        <button type="submit">"Create root CA"</button>
                                    </form>
                                    <p class="help">"Creating a CA needs your passkey: a prompt appears when you press the button."</p>
                                    {step_error_view(ca_error)}
                                    {action_result(create_ca, |c: CertView| format!("Created {} (pin {}).", c.subject, c.spki_pin))}
                                })}
                                {(has_ca && may_issue).then(|| {
                                    let parents = v.cas.clone();
                                    view! {
                                        <details>
                                            <summary>"Create an intermediate CA (optional)"</summary>
                                            <p class="help">"An intermediate keeps the root key out of daily use; certificates issued from it carry leaf → intermediate → root. Creating one needs your passkey: a prompt appears when you press the button."</p>
                                            <form class="inline-form" on:submit=move |ev| submit_confirmed(ev, intermediate_error, move |args: CreateIntermediateCa| { create_intermediate.dispatch(args); })>
                                                <div class="field">
                                                    <label for="parent-ca">"Signed by"</label>
                                                    <select id="parent-ca" name="parent_id">
                                                        {parents.iter().map(|c| view! { <option value=c.id.clone()>{c.subject.clone()}</option> }).collect_view()}
                                                    </select>
                                                </div>
                                                <Field label="Intermediate common name" name="common_name" value="Palisade Issuing CA"/>
                                                <KeyTypeSelect id="int-key-type"/>
                                                <CaValidity id="intermediate-validity--days-" label="Intermediate validity (days)" default=CA_INTERMEDIATE_DEFAULT_DAYS/>
                                                <button type="submit">"Create intermediate CA"</button>
                                            </form>
                                            {step_error_view(intermediate_error)}
                                            {action_result(create_intermediate, |c: CertView| format!("Created {} (pin {}).", c.subject, c.spki_pin))}
                                        </details>
                                    }
                                })}
                            </section>
                            {may_issue.then(|| view! {
                            <section class="card" aria-labelledby="issue-h">
                                <h2 id="issue-h">"Issue a server certificate"</h2>
                                {if has_ca {
                                    view! {
                                        <ActionForm action=issue attr:class="inline-form">
                                            <Field label="Hostname" name="hostname" placeholder="api.example.com"/>
                                            <Field label="Additional names (optional)" name="extra_sans" placeholder="api2.example.com, 192.0.2.10" required=false/>
                                            <div class="field">
                                                <label for="issue-ca">"Issuing CA"</label>
                                                <select id="issue-ca" name="ca_id">
                                                    {cas.iter().map(|c| view! { <option value=c.id.clone()>{c.subject.clone()}</option> }).collect_view()}
                                                </select>
                                            </div>
                                            <KeyTypeSelect id="issue-key-type"/>
                                            <div class="field">
                                                <label for="issue-validity">"Validity (days)"</label>
                                                <input id="issue-validity" name="validity_days" type="number" min="1" max=SERVER_MAX_DAYS
                                                    aria-describedby="validity-note" bind:value=validity/>
                                            </div>
                                            <button type="submit">"Issue certificate"</button>
                                        </ActionForm>
                                        <p id="validity-note" class="help">
                                            {move || {
                                                let warnings = validity.get().trim().parse::<u32>().map(server_validity_warnings).unwrap_or_default();
                                                if warnings.is_empty() {
                                                    PUBLIC_CA_SCHEDULE.into_any()
                                                } else {
                                                    view! { <strong class="warn">{warnings.join(" ")}</strong> }.into_any()
                                                }
                                            }}
                                        </p>
                                        {action_result(issue, |c: CertView| format!("Issued {} for {} (pin {}).", c.serial_hex, c.sans.join(", "), c.spki_pin))}
                                    }.into_any()
                                } else {
                                    view! { <p>"Create a CA first."</p> }.into_any()
                                }}
                            </section>
                            })}
                            <section class="card" aria-labelledby="hosts-h">
                                <h2 id="hosts-h">"Hostnames"</h2>
                                {action_result(rotate, |c: CertView| format!("Rotated: serial {} is now current for {} (pin {}).", c.serial_hex, c.sans.join(", "), c.spki_pin))}
                                {if v.hostnames.is_empty() {
                                    view! { <p>"No hostname yet."{may_issue.then_some(" Issue or import a certificate.")}</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="hostnames">
                                            {v.hostnames.into_iter().map(|h| view! { <HostnameCard host=h rotate=rotate csr=csr role=role/> }).collect_view()}
                                        </ul>
                                    }.into_any()
                                }}
                            </section>
                            <section class="card" aria-labelledby="csr-h">
                                <h2 id="csr-h">"Certificate signing requests"</h2>
                                <p class="help">"A CSR carries a hostname's next key to an external CA. The signed certificate is accepted only if it carries that key."</p>
                                {if v.csrs.is_empty() {
                                    view! { <p>"No CSR yet."{may_issue.then_some(" Create one from a hostname above.")}</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="csrs">
                                            {v.csrs.into_iter().map(|c| {
                                                let label = format!("Signed certificate for {} (PEM)", c.hostname);
                                                let field_id = format!("signed-{}", c.id);
                                                view! {
                                                    <li>
                                                        <h3>{format!("CSR for {}", c.hostname)}</h3>
                                                        <p>"Key pin " <code>{c.pin.clone()}</code></p>
                                                        <pre class="pem" aria-label=format!("CSR for {}", c.hostname)>{c.csr_pem.clone()}</pre>
                                                        <a href=format!("/download/csr/{}", c.id) download=format!("{}.csr.pem", c.hostname)>"Download CSR"</a>
                                                        {(!c.fulfilled && may_issue).then(|| view! {
                                                            <ActionForm action=upload>
                                                                <input type="hidden" name="csr_id" value=c.id.clone()/>
                                                                <label for=field_id.clone()>{label}</label>
                                                                <textarea id=field_id name="chain_pem" rows="6" required></textarea>
                                                                <button type="submit">"Upload signed certificate"</button>
                                                            </ActionForm>
                                                        })}
                                                    </li>
                                                }
                                            }).collect_view()}
                                        </ul>
                                        {action_result(upload, |c: CertView| format!("Accepted {} (pin {}); it is now current.", c.subject, c.spki_pin))}
                                    }.into_any()
                                }}
                            </section>
                            {may_issue.then(|| view! {
                            <section class="card" aria-labelledby="import-h">
                                <h2 id="import-h">"Import a certificate chain"</h2>
                                <form class="stack-form" on:submit=move |ev| submit_confirmed(ev, import_error, move |args: ImportCert| { import.dispatch(args); })>
                                    <Field label="Hostname for the imported chain" name="hostname" placeholder="api.example.com"/>
                                    <label for="import-chain">"Certificate chain (PEM, leaf first)"</label>
                                    <textarea id="import-chain" name="chain_pem" rows="6" required></textarea>
                                    <label for="import-key">"Private key (PEM, optional)"</label>
                                    <textarea id="import-key" name="key_pem" rows="4"></textarea>
                                    <button type="submit">"Import"</button>
                                </form>
                                <p class="help">"Importing needs your passkey: a prompt appears when you press Import."</p>
                                {step_error_view(import_error)}
                                {action_result(import, |c: CertView| format!("Imported {} (pin {}).", c.subject, c.spki_pin))}
                            </section>
                            })}
                            <section class="card" aria-labelledby="all-h">
                                <h2 id="all-h">"All certificates"</h2>
                                <CertTable certs=v.certificates caption="Every certificate, newest first"/>
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// A CA's validity field, bounded by [`CA_MAX_DAYS`] as the server bounds it.
#[component]
fn CaValidity(id: &'static str, label: &'static str, default: u32) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input id=id name="validity_days" type="number" min="1" max=CA_MAX_DAYS value=default.to_string() required/>
        </div>
    }
}

#[component]
fn KeyTypeSelect(id: &'static str) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>"Key type"</label>
            <select id=id name="key_type">
                <option value="ecdsa-p256" selected>"ECDSA P-256 (recommended)"</option>
                <option value="rsa-2048">"RSA 2048"</option>
                <option value="ed25519">"Ed25519"</option>
            </select>
        </div>
    }
}

#[component]
fn CertTable(certs: Vec<CertView>, caption: &'static str) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table>
                <caption>{caption}</caption>
                <thead><tr>
                    <th scope="col">"Subject"</th>
                    <th scope="col">"Names (SANs)"</th>
                    <th scope="col">"Issuer"</th>
                    <th scope="col">"Serial"</th>
                    <th scope="col">"Key"</th>
                    <th scope="col">"Valid"</th>
                    <th scope="col">"SPKI pin (SHA-256)"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Chain"</th>
                </tr></thead>
                <tbody>
                    {certs.into_iter().map(|c| {
                        let chain_label = format!("Download the chain of {}, serial {} (PEM)", c.subject, c.serial_hex);
                        let chain_file = format!("{}.chain.pem", c.file_stem);
                        view! {
                        <tr>
                            <td>{c.subject}</td>
                            <td>{c.sans.join(", ")}</td>
                            <td>{c.issuer}</td>
                            <td><code class="details">{c.serial_hex}</code></td>
                            <td>{c.key_type}</td>
                            <td><time>{c.not_before.chars().take(10).collect::<String>()}</time>" → "<time>{c.not_after.chars().take(10).collect::<String>()}</time></td>
                            <td><code>{c.spki_pin}</code></td>
                            <td><span class=format!("badge status-{}", c.status)>{c.status.clone()}</span></td>
                            <td><a href=chain_download_path(&c.id) download=chain_file aria-label=chain_label>"PEM"</a></td>
                        </tr>
                    }}).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn HostnameCard(
    host: crate::api::certs::HostnameView,
    rotate: ServerAction<RotateCert>,
    csr: Action<String, Result<crate::api::certs::CsrView, crate::error::AppError>>,
    /// The signed-in admin's role (`None`: unknown), for what the card offers to change.
    role: Option<Role>,
) -> impl IntoView {
    let may = move |p: Permission| role.is_some_and(|r| r.allows(p));
    let hostname = host.hostname.clone();
    let plan_target = RwSignal::new(None::<RotationTarget>);
    let h2 = hostname.clone();
    let plan = Resource::new(
        move || (plan_target.get(), rotate.version().get()),
        move |(target, _)| {
            let h = h2.clone();
            async move {
                match target {
                    Some(t) => plan_rotation(h, t).await.map(Some),
                    None => Ok(None),
                }
            }
        },
    );
    let reason_id = format!("override-{}", hostname.replace('.', "-"));
    let reason = RwSignal::new(String::new());
    // A failed passkey confirmation of an override.
    let step_error = RwSignal::new(None::<String>);
    let h3 = hostname.clone();
    view! {
        <li class="hostname">
            <h3>{hostname.clone()}</h3>
            <dl class="facts">
                <dt>"Current certificate"</dt>
                <dd>{host.current.as_ref().map(|c| format!("serial {} · valid until {} · {}", c.serial_hex, c.not_after.chars().take(10).collect::<String>(), c.key_type)).unwrap_or_else(|| "none".into())}</dd>
                <dt>"Current key pin"</dt>
                <dd><code>{host.current.as_ref().map(|c| c.spki_pin.clone()).unwrap_or_default()}</code></dd>
                <dt>"Next key pin (backup)"</dt>
                <dd><code>{host.next_pin.clone().unwrap_or_else(|| "none".into())}</code></dd>
                <dt>"Issuer"</dt>
                <dd>{host.ca_subject.clone().unwrap_or_else(|| "external CA".into())}</dd>
            </dl>
            {host.current.clone().map(|c| view! { <CertDownloads cert=c hostname=hostname.clone() role=role/> })}
            <div class="buttons">
                <button type="button" on:click=move |_| plan_target.set(Some(RotationTarget::NextKey))>{format!("Plan rotation of {} to the next key", hostname)}</button>
                <button type="button" class="secondary" on:click=move |_| plan_target.set(Some(RotationTarget::FreshKey))>"Plan rotation to a fresh key"</button>
                {may(Permission::CertsIssue).then(|| view! {
                    <button type="button" class="secondary" on:click=move |_| { csr.dispatch(h3.clone()); }>"Create CSR for the next key"</button>
                })}
            </div>
            <Transition fallback=|| ()>
                {move || {
                let reason_id = reason_id.clone();
                Suspend::new(async move {
                    match plan.await {
                        Ok(None) => ().into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(Some(p)) => {
                            let target_label = match p.target {
                                RotationTarget::NextKey => "the next key",
                                RotationTarget::FreshKey => "a fresh key",
                            };
                            let blocked = p.blocked;
                            let form_host = p.hostname.clone();
                            let form_target = p.target;
                            view! {
                                <section class="planner" aria-label=format!("Rotation plan for {}", p.hostname)>
                                    <h4>{format!("Rotation of {} to {}", p.hostname, target_label)}</h4>
                                    {match p.target {
                                        RotationTarget::NextKey => view! { <p>"New key pin " <code>{p.new_pin.clone()}</code></p> }.into_any(),
                                        RotationTarget::FreshKey => view! { <p>"The new key is generated at rotation: no shipped app has its pin."</p> }.into_any(),
                                    }}
                                    {if p.verdicts.is_empty() {
                                        view! { <p>"No app release records pins for this hostname yet."</p> }.into_any()
                                    } else {
                                        view! {
                                            <ul class="verdicts">
                                                {p.verdicts.into_iter().map(|v| view! {
                                                    <li class=if v.ok { "verdict ok" } else { "verdict bad" }>
                                                        <strong>{if v.ok { "✓ stays working" } else { "✗ would break" }}</strong>
                                                        " " {format!("{} {} ({})", v.app, v.version, v.platform)}
                                                        {(!v.supported).then_some(" · no longer supported")}
                                                        " — " {v.reason}
                                                    </li>
                                                }).collect_view()}
                                            </ul>
                                        }.into_any()
                                    }}
                                    {blocked.then(|| view! {
                                        <p class="error">"Blocked: a supported release would stop connecting. Ship the new pin first, or, as an owner, override with a written reason (audited; your passkey confirms it)."</p>
                                    })}
                                    {may(Permission::CertsRotate).then(|| view! {
                                        {blocked.then(|| view! {
                                            <label for=reason_id.clone()>"Reason for overriding"</label>
                                            <textarea id=reason_id.clone() rows="2" bind:value=reason></textarea>
                                        })}
                                        <button type="button" class=if blocked { "danger" } else { "" } on:click={
                                            let form_host = form_host.clone();
                                            move |_| {
                                                let what = match form_target {
                                                    RotationTarget::NextKey => "its pre-generated next key (the backup pin apps already ship)",
                                                    RotationTarget::FreshKey => "a fresh key that no shipped app knows",
                                                };
                                                // Only a blocked rotation is an override; an override needs a passkey
                                                // confirmation.
                                                let override_reason = if blocked { reason.get_untracked() } else { String::new() };
                                                let overriding = !override_reason.trim().is_empty();
                                                let message = format!(
                                                    "Rotate {form_host} to {what}? A new certificate is issued and served from now on, and a new next key is prepared.{}{}",
                                                    if blocked { " Supported releases listed as breaking will fail to connect." } else { "" },
                                                    if overriding { " Your passkey confirms the override next." } else { "" }
                                                );
                                                if confirm(&message) {
                                                    let args = RotateCert { hostname: form_host.clone(), target: form_target, override_reason };
                                                    if overriding {
                                                        confirm_then(step_error, move || { rotate.dispatch(args); });
                                                    } else {
                                                        rotate.dispatch(args);
                                                    }
                                                }
                                            }
                                        }>{if blocked { "Rotate anyway" } else { "Rotate now" }}</button>
                                        {step_error_view(step_error)}
                                    })}
                                </section>
                            }.into_any()
                        }
                    }
                })
                }}
            </Transition>
        </li>
    }
}

/// What "Download chain" gives, in words.
fn chain_note(c: &CertView) -> String {
    match (c.chain_certs, c.chain_has_root) {
        (0 | 1, _) => "The leaf certificate alone: the stored chain holds no CA certificate.".into(),
        (n, true) => format!("{n} certificates: the leaf first, then its CA certificates up to and including the root."),
        (n, false) => format!("{n} certificates: the leaf first, then its intermediates; the root is not included."),
    }
}

/// The files of a hostname's current certificate, for a server that is not behind a gate: its
/// chain (public, for every role) and its private key (`certs:issue`, a passkey confirmation,
/// a one-time link; audited). What a role may not do is shown disabled with the reason.
#[component]
fn CertDownloads(cert: CertView, hostname: String, role: Option<Role>) -> impl IntoView {
    let stem = cert.file_stem.clone();
    let error = RwSignal::new(None::<String>);
    let started = RwSignal::new(false);
    let reason_id = format!("key-reason-{}", hostname.replace(['.', '*'], "-"));
    let warning = format!(
        "This key lets anyone holding it impersonate {hostname}. The download is recorded in the audit log."
    );
    let may_download = role.is_some_and(|r| r.allows(Permission::CertsIssue));
    let refusal = if !may_download {
        Some(format!(
            "Your role ({}) cannot download private keys: it needs the certs:issue permission.",
            role.map(Role::as_str).unwrap_or("unknown")
        ))
    } else {
        cert.key_unavailable.clone()
    };
    let key_part = match refusal {
        Some(why) => view! {
            <button type="button" class="secondary" disabled aria-describedby=reason_id.clone()>"Download private key…"</button>
            <p class="help" id=reason_id>{why}</p>
        }
        .into_any(),
        None => {
            let cert_id = cert.id.clone();
            let host = hostname.clone();
            let message = format!("Download the private key of {host}? {warning} Your passkey confirms it next.");
            view! {
                <button type="button" class="secondary" aria-describedby=reason_id.clone() on:click=move |_| {
                    if !confirm(&message) {
                        return;
                    }
                    started.set(false);
                    let cert_id = cert_id.clone();
                    confirm_then(error, move || {
                        leptos::task::spawn_local(async move {
                            match create_key_download(cert_id).await {
                                Ok(link) => {
                                    started.set(true);
                                    navigate(&link.url);
                                }
                                Err(e) => error.set(Some(e.to_string())),
                            }
                        });
                    });
                }>"Download private key…"</button>
                <p class="help" id=reason_id>{format!("{warning} Your passkey is asked for first; the link it gives works once, for 60 seconds.")}</p>
            }
            .into_any()
        }
    };
    view! {
        <div class="downloads" role="group" aria-label=format!("Files of {hostname}")>
            <a href=chain_download_path(&cert.id) download=format!("{stem}.chain.pem")>"Download chain (PEM)"</a>
            <p class="help">{chain_note(&cert)}</p>
            {key_part}
            {move || started.get().then(|| view! { <p role="status">{format!("The private key of {} is downloading as {}.key.pem.", cert.hostname.clone().unwrap_or_default(), cert.file_stem)}</p> })}
            {step_error_view(error)}
        </div>
    }
}
