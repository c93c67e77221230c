//! `/admins`: the signed-in admin's own passkeys and sessions, the team (roles, disabling,
//! everyone's sessions for owners), invites, and the role → permission table the server
//! enforces. Changes ask for a passkey confirmation first where the server needs one.

use leptos::prelude::*;
use leptos_meta::Title;
use policy::access::{Permission, Role};

use crate::api::admins::{
    finish_add_passkey, list_admins, start_add_passkey, AdminInfo, CreateInvite, EndSessions,
    InviteInfo, RenamePasskey, RevokeInvite, RevokePasskey, SetAdminDisabled, SetAdminRole,
    TeamInfo,
};
use crate::components::access::Can;
use crate::components::forms::{action_result, confirm};
use crate::components::passkey::{self, confirm_then};
use crate::components::time::{relative, utc};

/// The actions of the page; every change reloads the team.
#[derive(Clone, Copy)]
struct Actions {
    invite: ServerAction<CreateInvite>,
    revoke_invite: ServerAction<RevokeInvite>,
    role: ServerAction<SetAdminRole>,
    disabled: ServerAction<SetAdminDisabled>,
    end: ServerAction<EndSessions>,
    rename: ServerAction<RenamePasskey>,
    revoke_passkey: ServerAction<RevokePasskey>,
    /// A failed passkey confirmation or passkey registration.
    error: RwSignal<Option<String>>,
    /// Bumped when a passkey was added.
    added: RwSignal<u32>,
}

#[component]
pub fn AdminsPage() -> impl IntoView {
    let a = Actions {
        invite: ServerAction::new(),
        revoke_invite: ServerAction::new(),
        role: ServerAction::new(),
        disabled: ServerAction::new(),
        end: ServerAction::new(),
        rename: ServerAction::new(),
        revoke_passkey: ServerAction::new(),
        error: RwSignal::new(None),
        added: RwSignal::new(0),
    };
    let team = Resource::new(
        move || {
            (
                a.invite.version().get(),
                a.revoke_invite.version().get(),
                a.role.version().get(),
                a.disabled.version().get(),
                a.end.version().get(),
                a.rename.version().get(),
                a.revoke_passkey.version().get(),
                a.added.get(),
            )
        },
        |_| list_admins(),
    );
    view! {
        <Title text="Admins · Palisade"/>
        <h1>"Admins"</h1>
        <p class="lead">
            "The people who may use this console, what each role may do, and your own passkeys and "
            "sessions. Changing a role or disabling an admin ends all their sessions at once."
        </p>
        {move || a.error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        {action_result(a.role, |_| "Role changed; their sessions have ended.".to_owned())}
        {action_result(a.disabled, |_| "Saved; a disabled admin's sessions have ended.".to_owned())}
        {action_result(a.end, |n| format!("{n} session{} ended.", if n == 1 { "" } else { "s" }))}
        {action_result(a.rename, |_| "Passkey renamed.".to_owned())}
        {action_result(a.revoke_passkey, |_| "Passkey revoked.".to_owned())}
        {action_result(a.revoke_invite, |_| "Invite revoked.".to_owned())}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match team.await {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(t) => view! { <Team team=t actions=a/> }.into_any(),
                }
            })}
        </Transition>
        <RolesTable/>
    }
}

#[component]
fn Team(team: TeamInfo, actions: Actions) -> impl IntoView {
    let now = team.now_ms;
    let me = team.admins.iter().find(|x| x.id == team.me).cloned();
    view! {
        {me.map(|m| view! { <YourAccount me=m now=now actions=actions/> })}
        <section class="card" aria-labelledby="team-h">
            <h2 id="team-h">"Team"</h2>
            <div class="table-wrap"><table>
                <thead><tr>
                    <th scope="col">"Admin"</th><th scope="col">"Role"</th><th scope="col">"Status"</th>
                    <th scope="col">"Passkeys"</th><th scope="col">"Sessions"</th><th scope="col">"Joined"</th>
                    <th scope="col">"Actions"</th>
                </tr></thead>
                <tbody>
                    {team.admins.iter().map(|x| view! { <TeamRow admin=x.clone() me=team.me.clone() now=now actions=actions/> }).collect_view()}
                </tbody>
            </table></div>
        </section>
        <Invites invites=team.invites now=now actions=actions/>
    }
}

#[component]
fn TeamRow(admin: AdminInfo, me: String, now: i64, actions: Actions) -> impl IntoView {
    let is_me = admin.id == me;
    let id = StoredValue::new(admin.id.clone());
    let from = admin.role;
    let name = StoredValue::new(admin.username.clone());
    let chosen = RwSignal::new(admin.role);
    let change_role = move |_| {
        let to = chosen.get_untracked();
        let msg = format!(
            "Make {} {}? All their sessions end now; your passkey confirms it next.",
            name.get_value(),
            to.as_str()
        );
        if to != from && confirm(&msg) {
            let args = SetAdminRole {
                id: id.get_value(),
                from,
                to,
            };
            confirm_then(actions.error, move || {
                actions.role.dispatch(args);
            });
        }
    };
    let disabled = admin.disabled;
    let toggle = move |_| {
        let msg = if disabled {
            format!(
                "Enable {} again? Your passkey confirms it next.",
                name.get_value()
            )
        } else {
            format!(
                "Disable {}? They are signed out everywhere now and cannot sign in until enabled again. Your passkey confirms it next.",
                name.get_value()
            )
        };
        if confirm(&msg) {
            let args = SetAdminDisabled {
                id: id.get_value(),
                disabled: !disabled,
            };
            confirm_then(actions.error, move || {
                actions.disabled.dispatch(args);
            });
        }
    };
    let end_all = move |_| {
        if confirm(&format!(
            "End every session of {}? Your passkey confirms it next.",
            name.get_value()
        )) {
            let args = EndSessions {
                admin_id: id.get_value(),
                session: String::new(),
            };
            confirm_then(actions.error, move || {
                actions.end.dispatch(args);
            });
        }
    };
    let count = admin.session_count;
    view! {
        <tr>
            <td><strong>{admin.display_name.clone()}</strong><br/><code>{admin.username.clone()}</code>{is_me.then_some(" (you)")}</td>
            <td>{admin.role.as_str()}</td>
            <td>{if admin.disabled { "disabled" } else { "active" }}</td>
            <td>{admin.passkeys.len()}</td>
            <td>{count}</td>
            <td>{relative(admin.created_at_ms, now)}</td>
            <td class="actions">
                {(!is_me).then(|| view! {
                    <Can p=Permission::AdminsManage>
                        <select aria-label=format!("New role for {}", name.get_value())
                                on:change=move |ev| if let Some(r) = Role::parse(&event_target_value(&ev)) { chosen.set(r) }>
                                {Role::ALL.iter().map(|r| view! { <option value=r.as_str() selected=*r == from>{r.as_str()}</option> }).collect_view()}
                            </select>
                        <button type="button" class="secondary" on:click=change_role>{format!("Change role of {}", name.get_value())}</button>
                        <button type="button" class=if disabled { "secondary" } else { "danger" } on:click=toggle>
                            {format!("{} {}", if disabled { "Enable" } else { "Disable" }, name.get_value())}
                        </button>
                    </Can>
                    <Can p=Permission::SessionsManage>
                        {(count > 0).then(|| view! {
                            <button type="button" class="secondary" on:click=end_all>{format!("End sessions of {}", name.get_value())}</button>
                        })}
                    </Can>
                })}
            </td>
        </tr>
    }
}

#[component]
fn YourAccount(me: AdminInfo, now: i64, actions: Actions) -> impl IntoView {
    let only_one = me.passkeys.len() <= 1;
    let me_id = StoredValue::new(me.id.clone());
    let new_name = NodeRef::<leptos::html::Input>::new();
    let busy = RwSignal::new(false);
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let name = new_name
            .get_untracked()
            .map(|el| el.value())
            .unwrap_or_default();
        busy.set(true);
        actions.error.set(None);
        leptos::task::spawn_local(async move {
            let result: Result<(), String> = async {
                passkey::step_up().await?;
                let started = start_add_passkey().await.map_err(|e| e.to_string())?;
                let credential = passkey::create(started.options).await?;
                finish_add_passkey(started.ceremony_id, credential, name)
                    .await
                    .map_err(|e| e.to_string())
            }
            .await;
            busy.set(false);
            match result {
                Ok(()) => actions.added.update(|n| *n += 1),
                Err(e) => actions.error.set(Some(e)),
            }
        });
    };
    let others = me.sessions.iter().filter(|s| !s.current).count();
    view! {
        <section class="card" aria-labelledby="you-h">
            <h2 id="you-h">"Your passkeys and sessions"</h2>
            <div class="table-wrap"><table aria-label="Your passkeys">
                <thead><tr><th scope="col">"Passkey"</th><th scope="col">"Added"</th><th scope="col">"Last used"</th><th scope="col">"Actions"</th></tr></thead>
                <tbody>
                    {me.passkeys.iter().map(|p| {
                        let label = if !p.name.is_empty() { p.name.clone() } else { p.model.clone().unwrap_or_else(|| "Unnamed passkey".into()) };
                        let model = p.model.clone().filter(|m| *m != label);
                        let pid = StoredValue::new(p.id.clone());
                        let shown = StoredValue::new(label.clone());
                        let rename = move |_| {
                            let msg = format!("New name for \"{}\":", shown.get_value());
                            if let Ok(Some(name)) = window().prompt_with_message(&msg) {
                                actions.rename.dispatch(RenamePasskey { id: pid.get_value(), name });
                            }
                        };
                        let revoke = move |_| {
                            if confirm(&format!("Revoke the passkey \"{}\"? It can no longer sign in. Your passkey confirms it next.", shown.get_value())) {
                                let args = RevokePasskey { id: pid.get_value() };
                                confirm_then(actions.error, move || { actions.revoke_passkey.dispatch(args); });
                            }
                        };
                        view! {
                            <tr>
                                <td>{label.clone()}{model.map(|m| view! { <br/><small>{m}</small> })}</td>
                                <td>{utc(p.created_at_ms)}</td>
                                <td>{p.last_used_at_ms.map(|t| relative(t, now)).unwrap_or_else(|| "never".into())}</td>
                                <td class="actions">
                                    <button type="button" class="secondary" on:click=rename>{format!("Rename {label}")}</button>
                                    <button type="button" class="danger" on:click=revoke disabled=only_one
                                        title=if only_one { "Your only passkey cannot be revoked: add another first." } else { "" }>
                                        {format!("Revoke {label}")}
                                    </button>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table></div>
            <form class="inline-form" on:submit=add>
                <label for="new-passkey">"Name of the new passkey"</label>
                <input id="new-passkey" type="text" maxlength="64" required placeholder="e.g. YubiKey 5C (backup)" node_ref=new_name/>
                <button type="submit" disabled=move || busy.get()>
                    {move || if busy.get() { "Waiting for your passkeys…" } else { "Add a passkey" }}
                </button>
                <p class="help">"Your current passkey confirms first, then the new one is created."</p>
            </form>
            <h3>"Your sessions"</h3>
            <div class="table-wrap"><table aria-label="Your sessions">
                <thead><tr><th scope="col">"Signed in"</th><th scope="col">"Last seen"</th><th scope="col">"IP address"</th><th scope="col">"Browser"</th><th scope="col">"Actions"</th></tr></thead>
                <tbody>
                    {me.sessions.iter().map(|s| {
                        let reference = StoredValue::new(s.reference.clone());
                        let end = move |_| {
                            actions.end.dispatch(EndSessions { admin_id: me_id.get_value(), session: reference.get_value() });
                        };
                        view! {
                            <tr>
                                <td>{utc(s.created_at_ms)}</td>
                                <td>{relative(s.last_seen_at_ms, now)}</td>
                                <td>{s.ip.clone().unwrap_or_default()}</td>
                                <td class="ua">{s.user_agent.clone().unwrap_or_default()}</td>
                                <td>{if s.current {
                                    view! { <span>"This session"</span> }.into_any()
                                } else {
                                    view! { <button type="button" class="secondary" on:click=end>{format!("End session {}", s.reference)}</button> }.into_any()
                                }}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table></div>
            {(others > 0).then(|| view! {
                <button type="button" class="secondary" on:click=move |_| {
                    if confirm("End all your other sessions? Every other browser signed in as you is signed out.") {
                        actions.end.dispatch(EndSessions { admin_id: me_id.get_value(), session: String::new() });
                    }
                }>"End all other sessions"</button>
            })}
        </section>
    }
}

#[component]
fn Invites(invites: Vec<InviteInfo>, now: i64, actions: Actions) -> impl IntoView {
    let role = RwSignal::new(Role::Operator);
    let label = NodeRef::<leptos::html::Input>::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let args = CreateInvite {
            role: role.get_untracked(),
            label: label
                .get_untracked()
                .map(|el| el.value())
                .unwrap_or_default(),
        };
        confirm_then(actions.error, move || {
            actions.invite.dispatch(args);
        });
    };
    let created = move || {
        actions.invite.value().get().map(|r| match r {
            Ok(c) => view! {
                <div class="shown-once" role="status">
                    <p><strong>{format!("Invite for an {} created.", c.role.as_str())}</strong>
                        " Send this link to the person it is for; it is shown only now, works once and until "
                        {utc(c.expires_at_ms)} "."</p>
                    <input type="text" readonly aria-label="Invite link" value=c.url.clone() class="mono"/>
                </div>
            }.into_any(),
            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <section class="card" aria-labelledby="invites-h">
            <h2 id="invites-h">"Invites"</h2>
            <Can p=Permission::AdminsManage>
                <form class="inline-form" on:submit=submit>
                    <label for="invite-role">"Role"</label>
                    <select id="invite-role" on:change=move |ev| if let Some(r) = Role::parse(&event_target_value(&ev)) { role.set(r) }>
                        {Role::ALL.iter().map(|r| view! { <option value=r.as_str() selected=*r == Role::Operator>{r.as_str()}</option> }).collect_view()}
                    </select>
                    <label for="invite-label">"For (note, optional)"</label>
                    <input id="invite-label" type="text" maxlength="100" placeholder="e.g. Dana, SRE on call" node_ref=label/>
                    <button type="submit">"Create invite"</button>
                    <p class="help">"One-time link, valid for 24 hours. Your passkey confirms first."</p>
                </form>
                {created}
            </Can>
            {if invites.is_empty() {
                view! { <p>"No invite yet."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap"><table aria-label="Invites">
                        <thead><tr><th scope="col">"Role"</th><th scope="col">"For"</th><th scope="col">"By"</th><th scope="col">"Created"</th><th scope="col">"State"</th><th scope="col">"Actions"</th></tr></thead>
                        <tbody>
                            {invites.into_iter().map(|i| {
                                let open = i.state == "open";
                                let id = StoredValue::new(i.id.clone());
                                let state = match (i.state.as_str(), &i.used_by) {
                                    ("used", Some(u)) => format!("used by {u}"),
                                    ("open", _) => format!("open, expires {}", relative(i.expires_at_ms, now)),
                                    (s, _) => s.to_owned(),
                                };
                                view! {
                                    <tr>
                                        <td>{i.role.as_str()}</td><td>{i.label.clone()}</td><td>{i.created_by.clone()}</td>
                                        <td>{utc(i.created_at_ms)}</td><td>{state}</td>
                                        <td>{open.then(|| view! {
                                            <Can p=Permission::AdminsManage>
                                                <button type="button" class="secondary" on:click=move |_| {
                                                    if confirm("Revoke this invite? Its link stops working now. Your passkey confirms it next.") {
                                                        let args = RevokeInvite { id: id.get_value() };
                                                        confirm_then(actions.error, move || { actions.revoke_invite.dispatch(args); });
                                                    }
                                                }>"Revoke invite"</button>
                                            </Can>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any()
            }}
        </section>
    }
}

/// The table the server enforces, from `policy::access`.
#[component]
fn RolesTable() -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="roles-h">
            <h2 id="roles-h">"Roles and permissions"</h2>
            <ul>
                {Role::ALL.iter().map(|r| view! { <li><strong>{r.as_str()}</strong>": "{r.summary()}</li> }).collect_view()}
            </ul>
            <div class="table-wrap"><table aria-label="Permissions by role">
                <thead><tr>
                    <th scope="col">"Permission"</th><th scope="col">"Lets an admin"</th>
                    {Role::ALL.iter().map(|r| view! { <th scope="col">{r.as_str()}</th> }).collect_view()}
                </tr></thead>
                <tbody>
                    {Permission::ALL.iter().map(|p| view! {
                        <tr>
                            <th scope="row"><code>{p.as_str()}</code></th>
                            <td>{p.describe()}</td>
                            {Role::ALL.iter().map(|r| {
                                let yes = r.allows(*p);
                                view! { <td class=if yes { "yes" } else { "no" } aria-label=format!("{}: {}", r.as_str(), if yes { "allowed" } else { "not allowed" })>{if yes { "✓" } else { "—" }}</td> }
                            }).collect_view()}
                        </tr>
                    }).collect_view()}
                </tbody>
            </table></div>
            <p class="help">"Sensitive actions (revoking keys, deleting clients, managing admins and gates, enforcing a policy…) also need a passkey confirmation from the last 5 minutes."</p>
        </section>
    }
}
