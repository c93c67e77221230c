//! `/rate-limits`: rate-limit policies. The form validates as you type, previews what the policy
//! admits for a synthetic traffic pattern, and shows the limit a client really gets across the
//! gate replicas: all three computed in the browser by the `policy` crate the gate runs.

use leptos::prelude::*;
use leptos_meta::Title;
use policy::access::{Permission, Role};
use policy::effective::effective_limit;
use policy::model::{
    Action as LimitAction, HeaderMatch, KeyBy, Limit, Match, Mode, PathMatch, Period, Policy, Scope,
};
use policy::preview::{simulate, totals, Bucket, Traffic};
use policy::validate::{validate, Issue};

use crate::api::policies::{
    list_policies, DeletePolicy, MovePolicy, PoliciesView, PolicyView, SavePolicy,
    SetPolicyEnabled, SetPolicyMode,
};
use crate::components::access::{Can, Me};
use crate::components::forms::confirm;
use crate::components::passkey::confirm_then;

/// The form's fields as typed; `build` turns them into the policy the gate would run.
#[derive(Clone, Copy)]
struct Form {
    id: RwSignal<String>,
    version: RwSignal<String>,
    name: RwSignal<String>,
    path_kind: RwSignal<String>,
    path: RwSignal<String>,
    methods: RwSignal<String>,
    client_ids: RwSignal<String>,
    ip_ranges: RwSignal<String>,
    header_name: RwSignal<String>,
    header_value: RwSignal<String>,
    key: RwSignal<String>,
    key_header: RwSignal<String>,
    rate: RwSignal<String>,
    per: RwSignal<String>,
    burst: RwSignal<String>,
    scope: RwSignal<String>,
    action: RwSignal<String>,
    max_delay: RwSignal<String>,
    enabled: RwSignal<bool>,
    mode: RwSignal<Mode>,
}

fn list(s: &str) -> Vec<String> {
    s.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Form {
    fn new() -> Self {
        let s = |v: &str| RwSignal::new(v.to_owned());
        Form {
            id: s(""),
            version: s(""),
            name: s(""),
            path_kind: s("prefix"),
            path: s("/"),
            methods: s(""),
            client_ids: s(""),
            ip_ranges: s(""),
            header_name: s(""),
            header_value: s(""),
            key: s("ip"),
            key_header: s(""),
            rate: s("10"),
            per: s("second"),
            burst: s("5"),
            scope: s("cluster"),
            action: s("reject"),
            max_delay: s("500"),
            enabled: RwSignal::new(true),
            mode: RwSignal::new(Mode::Shadow),
        }
    }

    fn build(&self) -> Policy {
        let path = self.path.get();
        let header_name = self.header_name.get();
        Policy {
            id: self.id.get(),
            name: self.name.get(),
            enabled: self.enabled.get(),
            order: 0,
            matcher: Match {
                path: match self.path_kind.get().as_str() {
                    "exact" => PathMatch::Exact(path),
                    "pattern" => PathMatch::Pattern(path),
                    _ => PathMatch::Prefix(path),
                },
                methods: list(&self.methods.get())
                    .into_iter()
                    .map(|m| m.to_ascii_uppercase())
                    .collect(),
                client_ids: list(&self.client_ids.get()),
                ip_ranges: list(&self.ip_ranges.get()),
                header: (!header_name.trim().is_empty()).then(|| HeaderMatch {
                    name: header_name.trim().to_owned(),
                    value: Some(self.header_value.get()).filter(|v| !v.trim().is_empty()),
                }),
            },
            key: match self.key.get().as_str() {
                "client" => KeyBy::Client,
                "subject" => KeyBy::Subject,
                "header" => KeyBy::Header(self.key_header.get().trim().to_owned()),
                "global" => KeyBy::Global,
                _ => KeyBy::Ip,
            },
            limit: Limit {
                rate: self.rate.get().trim().parse().unwrap_or(0),
                per: match self.per.get().as_str() {
                    "minute" => Period::Minute,
                    "hour" => Period::Hour,
                    "day" => Period::Day,
                    _ => Period::Second,
                },
                burst: self.burst.get().trim().parse().unwrap_or(0),
            },
            scope: Scope::parse(&self.scope.get()).unwrap_or(Scope::Cluster),
            action: match self.action.get().as_str() {
                "delay" => LimitAction::Delay {
                    max_delay_ms: self.max_delay.get().trim().parse().unwrap_or(0),
                },
                "shadow" => LimitAction::Shadow,
                _ => LimitAction::Reject,
            },
            mode: self.mode.get(),
        }
    }

    fn load(&self, v: &PolicyView) {
        let p = &v.policy;
        self.id.set(p.id.clone());
        self.version.set(v.version.to_string());
        self.name.set(p.name.clone());
        let (kind, path) = match &p.matcher.path {
            PathMatch::Prefix(s) => ("prefix", s),
            PathMatch::Exact(s) => ("exact", s),
            PathMatch::Pattern(s) => ("pattern", s),
        };
        self.path_kind.set(kind.into());
        self.path.set(path.clone());
        self.methods.set(p.matcher.methods.join(", "));
        self.client_ids.set(p.matcher.client_ids.join(", "));
        self.ip_ranges.set(p.matcher.ip_ranges.join(", "));
        self.header_name.set(
            p.matcher
                .header
                .as_ref()
                .map(|h| h.name.clone())
                .unwrap_or_default(),
        );
        self.header_value.set(
            p.matcher
                .header
                .as_ref()
                .and_then(|h| h.value.clone())
                .unwrap_or_default(),
        );
        let (key, header) = match &p.key {
            KeyBy::Ip => ("ip", String::new()),
            KeyBy::Client => ("client", String::new()),
            KeyBy::Subject => ("subject", String::new()),
            KeyBy::Header(h) => ("header", h.clone()),
            KeyBy::Global => ("global", String::new()),
        };
        self.key.set(key.into());
        self.key_header.set(header);
        self.rate.set(p.limit.rate.to_string());
        self.per.set(p.limit.per.noun().into());
        self.burst.set(p.limit.burst.to_string());
        self.scope.set(p.scope.as_str().into());
        let (action, delay) = match p.action {
            LimitAction::Reject => ("reject", 500),
            LimitAction::Delay { max_delay_ms } => ("delay", max_delay_ms),
            LimitAction::Shadow => ("shadow", 500),
        };
        self.action.set(action.into());
        self.max_delay.set(delay.to_string());
        self.enabled.set(p.enabled);
        self.mode.set(p.mode);
    }

    fn reset(&self) {
        let fresh = Form::new();
        self.id.set(String::new());
        self.version.set(String::new());
        self.name.set(String::new());
        self.path_kind.set(fresh.path_kind.get_untracked());
        self.path.set("/".into());
        for s in [
            self.methods,
            self.client_ids,
            self.ip_ranges,
            self.header_name,
            self.header_value,
            self.key_header,
        ] {
            s.set(String::new());
        }
        self.key.set("ip".into());
        self.rate.set("10".into());
        self.per.set("second".into());
        self.burst.set("5".into());
        self.scope.set("cluster".into());
        self.action.set("reject".into());
        self.max_delay.set("500".into());
        self.enabled.set(true);
        self.mode.set(Mode::Shadow);
    }
}

fn messages(issues: &[Issue], fields: &[&str]) -> Vec<String> {
    issues
        .iter()
        .filter(|i| fields.contains(&i.field.as_str()))
        .map(|i| i.message.clone())
        .collect()
}

#[component]
fn FieldIssues(
    issues: Memo<Vec<Issue>>,
    fields: &'static [&'static str],
    id: &'static str,
) -> impl IntoView {
    view! {
        <p class="field-issues" id=id role="alert">
            {move || messages(&issues.get(), fields).join(" ")}
        </p>
    }
}

#[component]
pub fn RateLimitsPage() -> impl IntoView {
    let save = ServerAction::<SavePolicy>::new();
    let enable = ServerAction::<SetPolicyEnabled>::new();
    let mode = ServerAction::<SetPolicyMode>::new();
    let move_ = ServerAction::<MovePolicy>::new();
    let delete = ServerAction::<DeletePolicy>::new();
    let data = Resource::new(
        move || {
            (
                save.version().get(),
                enable.version().get(),
                mode.version().get(),
                move_.version().get(),
                delete.version().get(),
            )
        },
        |_| list_policies(),
    );
    let form = Form::new();
    let built = Memo::new(move |_| form.build());
    let issues = Memo::new(move |_| validate(&built.get()));
    let has_errors = move || issues.get().iter().any(Issue::is_error);

    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            form.reset();
        }
    });

    let on_save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if has_errors() {
            return;
        }
        let spec = serde_json::to_string(&built.get_untracked()).unwrap_or_default();
        save.dispatch(SavePolicy {
            spec_json: spec,
            version: form.version.get_untracked(),
        });
    };

    let outcome = move |r: Option<Result<(), crate::error::AppError>>| {
        r.and_then(|r| r.err())
            .map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })
    };
    // A failed passkey confirmation (switching a policy to enforce needs one).
    let step_error = RwSignal::new(None::<String>);
    // What the signed-in role may change, awaited with the policies: a `Can` inside the
    // suspended view would add suspense boundaries whose order on the server depends on timing,
    // and hydration fails when it differs from the browser's.
    let me = use_context::<Me>();

    view! {
        <Title text="Rate limits · Palisade"/>
        <h1>"Rate limits"</h1>
        <p class="lead">
            "Policies the gates enforce, first match in order. Limits use GCRA: over any window a key gets at most "
            "rate × time + burst. New policies start in shadow mode (counted and logged, nothing refused) until you "
            "switch them to enforce. Every change reaches the enrolled gates within a second (see Gates). Cluster-scoped "
            "policies share one count across the gates that run with Redis (--redis); a gate without it counts alone."
        </p>
        <section class="card" aria-labelledby="policies-h">
            <h2 id="policies-h">"Policies"</h2>
            {move || outcome(enable.value().get())}
            {move || step_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || outcome(mode.value().get())}
            {move || outcome(move_.value().get())}
            {move || outcome(delete.value().get())}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let role = match me { Some(Me(r)) => r.await.ok().map(|a| a.role), None => None };
                    match data.await {
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(v) => view! { <PolicyTable data=v form=form enable=enable mode=mode move_=move_ delete=delete step_error=step_error role=role/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <Can p=Permission::PoliciesWrite>
        <section class="card" aria-labelledby="editor-h">
            <h2 id="editor-h">{move || if form.version.get().is_empty() { "New policy".to_owned() } else { format!("Edit {}", form.name.get()) }}</h2>
            <form class="policy-form" on:submit=on_save>
                <div class="inline-form">
                    <div class="field"><label for="p-name">"Policy name"</label>
                        <input id="p-name" type="text" bind:value=form.name aria-describedby="p-name-issues"/></div>
                    <div class="field checkbox"><input id="p-enabled" type="checkbox" bind:checked=form.enabled/><label for="p-enabled">"Enabled"</label></div>
                </div>
                <FieldIssues issues=issues fields=&["name", "id", "order"] id="p-name-issues"/>
                <fieldset>
                    <legend>"Match"</legend>
                    <div class="inline-form">
                        <div class="field"><label for="p-path-kind">"Path match"</label>
                            <select id="p-path-kind" bind:value=form.path_kind>
                                <option value="prefix">"Prefix"</option><option value="exact">"Exact"</option><option value="pattern">"Pattern (* = one segment, /** = rest)"</option>
                            </select></div>
                        <div class="field"><label for="p-path">"Path"</label>
                            <input id="p-path" type="text" bind:value=form.path aria-describedby="p-path-issues"/></div>
                        <div class="field"><label for="p-methods">"Methods (empty = any)"</label>
                            <input id="p-methods" type="text" placeholder="GET, POST" bind:value=form.methods/></div>
                    </div>
                    <FieldIssues issues=issues fields=&["matcher.path", "matcher.methods"] id="p-path-issues"/>
                    <div class="inline-form">
                        <div class="field"><label for="p-clients">"Client ids (empty = any)"</label>
                            <input id="p-clients" type="text" bind:value=form.client_ids/></div>
                        <div class="field"><label for="p-ips">"IP ranges (CIDR, empty = any)"</label>
                            <input id="p-ips" type="text" placeholder="203.0.113.0/24, 2001:db8::/32" bind:value=form.ip_ranges aria-describedby="p-ip-issues"/></div>
                        <div class="field"><label for="p-hname">"Header name (optional)"</label>
                            <input id="p-hname" type="text" bind:value=form.header_name/></div>
                        <div class="field"><label for="p-hvalue">"Header value (empty = present)"</label>
                            <input id="p-hvalue" type="text" bind:value=form.header_value/></div>
                    </div>
                    <FieldIssues issues=issues fields=&["matcher.client_ids", "matcher.ip_ranges", "matcher.header.name", "matcher.header.value"] id="p-ip-issues"/>
                </fieldset>
                <fieldset>
                    <legend>"Limit"</legend>
                    <div class="inline-form">
                        <div class="field"><label for="p-key">"Count per"</label>
                            <select id="p-key" bind:value=form.key>
                                <option value="ip">"IP address"</option><option value="client">"Client"</option>
                                <option value="subject">"Token subject"</option><option value="header">"Header value"</option>
                                <option value="global">"Everyone (one global count)"</option>
                            </select></div>
                        {move || (form.key.get() == "header").then(|| view! {
                            <div class="field"><label for="p-key-header">"Key header"</label>
                                <input id="p-key-header" type="text" bind:value=form.key_header/></div>
                        })}
                        <div class="field"><label for="p-rate">"Requests"</label>
                            <input id="p-rate" type="number" min="1" bind:value=form.rate aria-describedby="p-limit-issues"/></div>
                        <div class="field"><label for="p-per">"Per"</label>
                            <select id="p-per" bind:value=form.per>
                                <option value="second">"second"</option><option value="minute">"minute"</option>
                                <option value="hour">"hour"</option><option value="day">"day"</option>
                            </select></div>
                        <div class="field"><label for="p-burst">"Burst"</label>
                            <input id="p-burst" type="number" min="0" bind:value=form.burst/></div>
                        <div class="field"><label for="p-scope">"Scope"</label>
                            <select id="p-scope" bind:value=form.scope>
                                <option value="cluster">"Cluster (one shared count in Redis; each gate alone while Redis is down)"</option>
                                <option value="cluster_strict">"Cluster, strict (one shared count in Redis; 503 while Redis is down)"</option>
                                <option value="gate">"Gate (each gate counts alone)"</option>
                            </select></div>
                        <div class="field"><label for="p-action">"Over the limit"</label>
                            <select id="p-action" bind:value=form.action>
                                <option value="reject">"Reject with 429"</option><option value="delay">"Delay, then reject"</option>
                                <option value="shadow">"Log only (shadow)"</option>
                            </select></div>
                        {move || (form.action.get() == "delay").then(|| view! {
                            <div class="field"><label for="p-delay">"Maximum delay (ms)"</label>
                                <input id="p-delay" type="number" min="1" bind:value=form.max_delay/></div>
                        })}
                    </div>
                    <FieldIssues issues=issues fields=&["key", "limit.rate", "limit.burst", "action.max_delay_ms"] id="p-limit-issues"/>
                </fieldset>
                <button type="submit" disabled=move || has_errors() || save.pending().get()>
                    {move || if form.version.get().is_empty() { "Create policy (starts in shadow mode)" } else { "Save changes" }}
                </button>
                <button type="button" class="secondary" on:click=move |_| form.reset()>"Clear the form"</button>
                {move || save.value().get().map(|r| match r {
                    Ok(v) => view! { <p class="ok" role="status">{format!("Saved {} (version {}, {}).", v.policy.name, v.version, if v.policy.mode == Mode::Enforce { "enforced" } else { "shadow mode" })}</p> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                })}
            </form>
        </section>
        <div class="two-col">
            <Preview policy=built issues=issues/>
            <EffectiveLimit policy=built/>
        </div>
        </Can>
    }
}

#[component]
fn PolicyTable(
    data: PoliciesView,
    form: Form,
    enable: ServerAction<SetPolicyEnabled>,
    mode: ServerAction<SetPolicyMode>,
    move_: ServerAction<MovePolicy>,
    delete: ServerAction<DeletePolicy>,
    step_error: RwSignal<Option<String>>,
    /// The signed-in admin's role (`None`: unknown), for what each row offers to change.
    role: Option<Role>,
) -> impl IntoView {
    let may = move |p: Permission| role.is_some_and(|r| r.allows(p));
    if data.policies.is_empty() {
        return view! { <p>"No policy yet."{may(Permission::PoliciesWrite).then_some(" Create one below.")}</p> }.into_any();
    }
    let set_issues = data.set_issues.clone();
    view! {
        {(!set_issues.is_empty()).then(|| view! {
            <ul class="findings">
                {set_issues.into_iter().map(|i| view! { <li class="finding warning">{i.message}</li> }).collect_view()}
            </ul>
        })}
        <div class="table-wrap"><table>
            <caption>"Evaluation order: the first matching policy decides"</caption>
            <thead><tr>
                <th scope="col">"#"</th><th scope="col">"Name"</th><th scope="col">"Match"</th><th scope="col">"Per"</th>
                <th scope="col">"Limit"</th><th scope="col">"Scope"</th><th scope="col">"Over the limit"</th>
                <th scope="col">"Mode"</th><th scope="col">"Bound clients"</th><th scope="col">"Actions"</th>
            </tr></thead>
            <tbody>
                {data.policies.into_iter().enumerate().map(|(i, v)| {
                    let p = v.policy.clone();
                    let id = p.id.clone();
                    let version = v.version.to_string();
                    let name = p.name.clone();
                    let (id1, id2, id3, id4, id5) = (id.clone(), id.clone(), id.clone(), id.clone(), id.clone());
                    let (v1, v2, v3, v4, v5) = (version.clone(), version.clone(), version.clone(), version.clone(), version.clone());
                    let (n1, n2) = (name.clone(), name.clone());
                    let enforced = p.mode == Mode::Enforce;
                    let enabled = p.enabled;
                    let path = match &p.matcher.path { PathMatch::Prefix(s) => format!("{s}…"), PathMatch::Exact(s) | PathMatch::Pattern(s) => s.clone() };
                    let methods = if p.matcher.methods.is_empty() { "any method".to_owned() } else { p.matcher.methods.join(" ") };
                    let v_edit = v.clone();
                    view! {
                        <tr id=crate::pages::anchor("policy", &id) class=if enabled { "" } else { "disabled" }>
                            <td class="num">{i + 1}</td>
                            <td>{name.clone()}{(!enabled).then_some(" (disabled)")}</td>
                            <td>{format!("{methods} {path}")}</td>
                            <td>{p.key.describe()}</td>
                            <td>{format!("{} / {}, burst {}", p.limit.rate, p.limit.per.noun(), p.limit.burst)}</td>
                            <td>{p.scope.label()}</td>
                            <td>{match p.action { LimitAction::Reject => "reject (429)".to_owned(), LimitAction::Delay { max_delay_ms } => format!("delay ≤ {max_delay_ms} ms"), LimitAction::Shadow => "log only".to_owned() }}</td>
                            <td><span class=if enforced { "badge outcome-success" } else { "badge outcome-denied" }>{if enforced { "enforce" } else { "shadow" }}</span></td>
                            <td>{if v.clients.is_empty() { "none".to_owned() } else { v.clients.join(", ") }}</td>
                            <td class="row-actions">
                                {may(Permission::PoliciesWrite).then(|| view! {
                                    <button type="button" class="secondary small" on:click=move |_| form.load(&v_edit)>{format!("Edit {name}")}</button>
                                    <button type="button" class="secondary small" aria-label=format!("Move {} up", name) on:click=move |_| { move_.dispatch(MovePolicy { id: id1.clone(), direction: "up".into(), version: v1.clone() }); }>"↑"</button>
                                    <button type="button" class="secondary small" aria-label=format!("Move {} down", name) on:click=move |_| { move_.dispatch(MovePolicy { id: id2.clone(), direction: "down".into(), version: v2.clone() }); }>"↓"</button>
                                    <button type="button" class="secondary small" on:click=move |_| { enable.dispatch(SetPolicyEnabled { id: id3.clone(), enabled: !enabled, version: v3.clone() }); }>
                                        {if enabled { format!("Disable {}", n1) } else { format!("Enable {}", n1) }}
                                    </button>
                                })}
                                // Back to shadow needs policies:write; enforcing needs policies:enforce
                                // and a passkey confirmation.
                                {(if enforced { may(Permission::PoliciesWrite) } else { may(Permission::PoliciesEnforce) }).then(|| view! {
                                    <button type="button" class="small" on:click=move |_| {
                                        if enforced {
                                            if confirm(&format!("Switch {n2} back to shadow mode? Gates will only count and log what it would refuse.")) {
                                                mode.dispatch(SetPolicyMode { id: id4.clone(), mode: "shadow".into(), version: v4.clone() });
                                            }
                                        } else if confirm(&format!("Enforce {n2}? Gates will start refusing or delaying requests over its limit instead of only logging them. Your passkey confirms it next.")) {
                                            let args = SetPolicyMode { id: id4.clone(), mode: "enforce".into(), version: v4.clone() };
                                            confirm_then(step_error, move || { mode.dispatch(args); });
                                        }
                                    }>{if enforced { "Back to shadow" } else { "Switch to enforce" }}</button>
                                })}
                                {may(Permission::PoliciesWrite).then(|| view! {
                                    <button type="button" class="secondary small" on:click={
                                        let name = name.clone();
                                        move |_| {
                                            if confirm(&format!("Delete the policy {name}? Requests it limited will no longer be limited by it.")) {
                                                delete.dispatch(DeletePolicy { id: id5.clone(), version: v5.clone() });
                                            }
                                        }
                                    }>{format!("Delete {}", name)}</button>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table></div>
    }
    .into_any()
}

#[component]
fn Preview(policy: Memo<Policy>, issues: Memo<Vec<Issue>>) -> impl IntoView {
    let pattern = RwSignal::new("constant".to_string());
    let rps = RwSignal::new("50".to_string());
    let peak = RwSignal::new("200".to_string());
    let buckets = Memo::new(move |_| {
        // The name does not change what the limit admits: preview while it is still empty.
        let blocking = issues
            .get()
            .iter()
            .any(|i| i.is_error() && !matches!(i.field.as_str(), "name" | "id" | "order"));
        if blocking {
            return Err("Fix the errors above to see the preview.".to_owned());
        }
        let base: u32 = rps.get().trim().parse().unwrap_or(0);
        let top: u32 = peak.get().trim().parse().unwrap_or(0);
        let traffic = match pattern.get().as_str() {
            "burst" => Traffic::Burst {
                base_rps: base,
                burst_rps: top,
                every_s: 20,
                length_s: 5,
            },
            "ramp" => Traffic::Ramp {
                from_rps: base,
                to_rps: top,
            },
            _ => Traffic::Constant { rps: base },
        };
        simulate(&policy.get(), &traffic, 60).map_err(|e| format!("{e:?}"))
    });
    view! {
        <section class="card" aria-labelledby="preview-h">
            <h2 id="preview-h">"Preview"</h2>
            <p class="help">"What this policy does to one key over 60 seconds, computed by the same GCRA code the gate runs."</p>
            <div class="inline-form">
                <div class="field"><label for="t-pattern">"Traffic pattern"</label>
                    <select id="t-pattern" bind:value=pattern>
                        <option value="constant">"Constant"</option><option value="burst">"Bursts (5 s every 20 s)"</option><option value="ramp">"Ramp"</option>
                    </select></div>
                <div class="field"><label for="t-rps">"Offered requests per second"</label>
                    <input id="t-rps" type="number" min="0" bind:value=rps/></div>
                {move || (pattern.get() != "constant").then(|| view! {
                    <div class="field"><label for="t-peak">{move || if pattern.get() == "ramp" { "Ramp to (requests per second)" } else { "Burst requests per second" }}</label>
                        <input id="t-peak" type="number" min="0" bind:value=peak/></div>
                })}
            </div>
            {move || match buckets.get() {
                Err(m) => view! { <p class="help">{m}</p> }.into_any(),
                Ok(b) => view! { <Chart buckets=b shadow=policy.get().mode == Mode::Shadow || policy.get().action == LimitAction::Shadow/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Chart(buckets: Vec<Bucket>, shadow: bool) -> impl IntoView {
    let t = totals(&buckets);
    let max = buckets.iter().map(|b| b.offered).max().unwrap_or(1).max(1) as f64;
    let (w, h, left, bottom) = (600.0_f64, 220.0_f64, 40.0_f64, 20.0_f64);
    let bw = (w - left) / buckets.len().max(1) as f64;
    let y = move |v: f64| (h - bottom) * (1.0 - v / max);
    let summary = if shadow {
        format!(
            "Over 60 s: {} offered, all admitted in shadow mode; enforcing would reject {} and delay {}.",
            t.offered, t.shadow_rejected, t.shadow_delayed
        )
    } else {
        format!(
            "Over 60 s: {} offered, {} admitted at once, {} delayed, {} rejected.",
            t.offered, t.admitted, t.delayed, t.rejected
        )
    };
    view! {
        <svg class="chart" viewBox=format!("0 0 {w} {h}") role="img" aria-label=format!("Preview chart. {summary}")>
            <line class="axis" x1=left x2=w y1=h - bottom y2=h - bottom/>
            <text class="tick-label" x=left - 4.0 y=y(max) + 4.0 text-anchor="end">{format!("{max}")}</text>
            <text class="tick-label" x=left - 4.0 y=h - bottom text-anchor="end">"0"</text>
            <text class="tick-label" x=left y=h - 4.0>"0 s"</text>
            <text class="tick-label" x=w y=h - 4.0 text-anchor="end">"60 s"</text>
            {buckets.into_iter().enumerate().map(|(i, b)| {
                let x = left + i as f64 * bw;
                let ok = f64::from(b.admitted.saturating_sub(b.shadow_rejected + b.shadow_delayed));
                let would = f64::from(b.shadow_rejected + b.shadow_delayed);
                let delayed = f64::from(b.delayed);
                let rejected = f64::from(b.rejected);
                let mut base = 0.0;
                let mut seg = |v: f64, class: &'static str| {
                    let top = base + v;
                    let r = (v > 0.0).then(|| view! { <rect class=class x=x + 0.5 y=y(top) width=(bw - 1.0).max(0.5) height=y(base) - y(top)/> });
                    base = top;
                    r
                };
                view! { <g>{seg(ok, "admitted")}{seg(would, "would-reject")}{seg(delayed, "delayed")}{seg(rejected, "rejected")}</g> }
            }).collect_view()}
        </svg>
        <p class="legend">
            <span class="key admitted">"admitted"</span>
            <span class="key delayed">"delayed"</span>
            <span class="key rejected">"rejected"</span>
            <span class="key would-reject">"would be refused (shadow)"</span>
        </p>
        <p role="status">{summary}</p>
    }
}

#[component]
fn EffectiveLimit(policy: Memo<Policy>) -> impl IntoView {
    let replicas = RwSignal::new("3".to_string());
    let result = Memo::new(move |_| {
        effective_limit(&policy.get(), replicas.get().trim().parse().unwrap_or(1))
    });
    view! {
        <section class="card" aria-labelledby="effective-h">
            <h2 id="effective-h">"Effective limit"</h2>
            <div class="field"><label for="e-replicas">"Gate replicas"</label>
                <input id="e-replicas" type="number" min="1" max="1000" bind:value=replicas/></div>
            <p class="effective" role="status">
                <strong>{move || { let e = result.get(); format!("{} requests per {} (≈ {:.1}/s), burst {}", e.rate, e.per.noun(), e.rate_per_s, e.burst) }}</strong>
                {move || if result.get().exact { " — exact".to_owned() } else { format!(" — with {} gates", result.get().replicas) }}
            </p>
            <p class="help">{move || result.get().explanation}</p>
            {move || result.get().warning.map(|w| view! { <p class="warn" role="alert">{w}</p> })}
        </section>
    }
}
