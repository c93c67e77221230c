//! The expiry timeline: certificates and pin sets on a six-month axis, with the 7-, 14- and
//! 30-day warning zones shaded, so what expires next is seen before it is read.

use leptos::prelude::*;

use crate::api::dashboard::ExpiryView;

const WINDOW_DAYS: i64 = 180;
const X0: f64 = 300.0;
const X1: f64 = 860.0;
const ROW: f64 = 28.0;
const TOP: f64 = 34.0;

fn x(days: i64) -> f64 {
    let d = days.clamp(0, WINDOW_DAYS) as f64;
    X0 + d / WINDOW_DAYS as f64 * (X1 - X0)
}

fn when(days: i64) -> String {
    match days {
        d if d < 0 => format!("expired {} days ago", -d),
        0 => "expires today".to_owned(),
        1 => "in 1 day".to_owned(),
        d => format!("in {d} days"),
    }
}

#[component]
pub fn ExpiryTimeline(items: Vec<ExpiryView>) -> impl IntoView {
    let height = TOP + ROW * items.len().max(1) as f64 + 10.0;
    let soonest = items
        .first()
        .map(|i| format!("{} {} {}", i.kind, i.name, when(i.days_left)))
        .unwrap_or_default();
    let label = format!(
        "Expiry timeline of {} items over the next six months; soonest: {soonest}",
        items.len()
    );
    let ticks = [0i64, 7, 14, 30, 60, 90, 120, 180];
    view! {
        <svg class="timeline" viewBox=format!("0 0 900 {height}") role="img" aria-label=label>
            <rect class="zone zone-7" x=x(0) y="18" width=x(7) - x(0) height=height - 18.0/>
            <rect class="zone zone-14" x=x(7) y="18" width=x(14) - x(7) height=height - 18.0/>
            <rect class="zone zone-30" x=x(14) y="18" width=x(30) - x(14) height=height - 18.0/>
            {ticks.into_iter().map(|t| view! {
                <line class="tick" x1=x(t) x2=x(t) y1="18" y2=height/>
                {(t != 7 && t != 14).then(|| view! {
                    <text class="tick-label" x=x(t) y="12" text-anchor="middle">{if t == 0 { "today".to_owned() } else { format!("{t} d") }}</text>
                })}
            }).collect_view()}
            {items.into_iter().enumerate().map(|(i, item)| {
                let y = TOP + ROW * i as f64;
                let beyond = item.days_left > WINDOW_DAYS;
                view! {
                    <g class=format!("item level-{}", item.level)>
                        <text class="item-label" x=X0 - 10.0 y=y + 4.0 text-anchor="end">{format!("{}: {}", item.kind, item.name)}</text>
                        <line class="row-line" x1=X0 x2=x(item.days_left) y1=y y2=y/>
                        <circle cx=x(item.days_left) cy=y r="6"/>
                        <text class="item-date" x=x(item.days_left) + if beyond { -10.0 } else { 10.0 } y=y + 4.0
                            text-anchor=if beyond { "end" } else { "start" }>
                            {format!("{}{} ({})", if beyond { "→ " } else { "" }, item.date, when(item.days_left))}
                        </text>
                    </g>
                }
            }).collect_view()}
        </svg>
    }
}
