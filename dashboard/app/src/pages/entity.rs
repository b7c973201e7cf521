//! One entity: its memories (extracted ones first, by kind, searchable, paged; the verbatim
//! episodes apart), its sessions and a timeline (paged), and links to export, graph,
//! playground and erasure.
use leptos::prelude::*;
use leptos_router::components::A;
use memori_types::admin::{EntityDetail, Page};
use memori_types::model::{Memory, MemoryKind};

use crate::api::{self, seg};
use crate::components::{PAGE_ROWS, loaded, pager, param, validity, when};

fn memory_row(m: Memory) -> impl IntoView {
    let badge = validity(&m);
    view! {
        <li class="memory" class:invalidated=m.invalidated_at.is_some()>
            <A href=format!("/memories/{}", m.id)>{m.text.clone()}</A>
            " " {badge}
            <span class="muted">{format!(" importance {:.2} · mentioned {}× · since {}", m.importance, m.mention_count, when(m.valid_from))}</span>
        </li>
    }
}

#[component]
pub(crate) fn EntityPage() -> impl IntoView {
    let id = param("id");
    let data = LocalResource::new(move || {
        let id = id();
        async move { api::get::<EntityDetail>(&format!("/entities/{}", seg(&id))).await }
    });
    let tab = RwSignal::new("memories");
    view! {
        {move || loaded(data.get(), move |d: EntityDetail| {
            let e = d.entity.clone();
            let enc = seg(&e.id);
            let labels = counts(&d);
            let sessions = d.sessions.clone();
            let timeline = timeline(&d);
            view! {
                <h1 class="entity-title">{e.id.clone()}</h1>
                <p class="muted">{format!("{} current memories · {} sessions · {} messages · first seen {} · last active {}",
                    e.memories, e.sessions, e.messages, when(e.created_at), when(e.last_seen_at))}</p>
                <p class="actions">
                    <A href=format!("/entities/{enc}/graph")>"Knowledge graph"</A>
                    <A href=format!("/playground?entity={enc}")>"Recall playground"</A>
                    <a href=format!("/api/v1/entities/{enc}/export") download="memori-export.json">"Export JSON"</a>
                    <A href=format!("/compliance?entity={enc}")>"Erase…"</A>
                </p>
                <div class="tabs">
                    <button class:active=move || tab.get() == "memories" on:click=move |_| tab.set("memories")>"Memories"</button>
                    <button id="tab-sessions" class:active=move || tab.get() == "sessions" on:click=move |_| tab.set("sessions")>"Sessions"</button>
                    <button class:active=move || tab.get() == "timeline" on:click=move |_| tab.set("timeline")>"Timeline"</button>
                </div>
                {move || match tab.get() {
                    "sessions" => {
                        let offset = RwSignal::new(0usize);
                        let (e, sessions) = (e.clone(), sessions.clone());
                        let total = sessions.len();
                        view! {
                            <table class="sessions">
                                <thead><tr><th>"Session"</th><th>"Process"</th><th>"Messages"</th><th>"From"</th><th>"To"</th></tr></thead>
                                <tbody>{move || sessions.iter().skip(offset.get()).take(PAGE_ROWS).cloned().map(|s| view! {
                                    <tr>
                                        <td><A href=format!("/entities/{}/sessions/{}", seg(&e.id), seg(&s.id)) attr:class="session-link">{s.id.clone()}</A></td>
                                        <td>{s.process}</td><td>{s.messages}</td>
                                        <td>{when(s.created_at)}</td><td>{when(s.last_seen_at)}</td>
                                    </tr>
                                }).collect_view()}</tbody>
                            </table>
                            {(total > PAGE_ROWS).then(|| pager("sessions-pager", total, offset))}
                        }.into_any()
                    }
                    "timeline" => {
                        let offset = RwSignal::new(0usize);
                        let timeline = timeline.clone();
                        let total = timeline.len();
                        view! {
                            <ul class="timeline">{move || timeline.iter().skip(offset.get()).take(PAGE_ROWS).cloned().map(|(t, what, text)| view! {
                                <li><span class="muted">{when(t)}</span>" "<b>{what}</b>" "{text}</li>
                            }).collect_view()}</ul>
                            {(total > PAGE_ROWS).then(|| pager("timeline-pager", total, offset))}
                        }.into_any()
                    }
                    _ => view! { <MemoryList entity=e.id.clone() labels=labels.clone()/> }.into_any(),
                }}
            }
        })}
    }
}

/// Which memories the list shows: a value and its label.
const SHOWN: &[(&str, &str)] = &[
    ("extracted", "extracted memories"),
    ("fact", "facts"),
    ("preference", "preferences"),
    ("skill", "skills"),
    ("attribute", "attributes"),
    ("event", "events"),
    ("episode", "episodes (verbatim messages)"),
];

/// How many current memories each choice of [`SHOWN`] holds.
fn counts(d: &EntityDetail) -> Vec<(&'static str, String)> {
    let current = |k: &str| d.memories.iter().filter(|m| m.invalidated_at.is_none() && m.kind.as_str() == k).count();
    SHOWN
        .iter()
        .map(|(k, label)| {
            let n = match *k {
                "extracted" => d.memories.iter().filter(|m| m.invalidated_at.is_none()).count() as u64,
                "episode" => d.episodes,
                kind => current(kind) as u64,
            };
            (*k, format!("{label} ({n})"))
        })
        .collect()
}

/// An entity's memories, a page at a time from the server: one kind at a time (the extracted
/// ones by default: hundreds of verbatim episodes would bury them), a text search, invalidated
/// ones on request.
#[component]
fn MemoryList(entity: String, labels: Vec<(&'static str, String)>) -> impl IntoView {
    let shown = RwSignal::new("extracted");
    let search = RwSignal::new(String::new());
    let history = RwSignal::new(false);
    let offset = RwSignal::new(0usize);
    let page = LocalResource::new(move || {
        let (kind, q, history, off) = (shown.get(), search.get(), history.get(), offset.get());
        let path = format!(
            "/entities/{}/memories?kind={kind}&q={}&history={history}&offset={off}&limit={PAGE_ROWS}",
            seg(&entity),
            seg(&q)
        );
        async move { api::get::<Page<Memory>>(&path).await }
    });
    view! {
        <div class="filters">
            <select id="memory-kind" on:change=move |ev| {
                let v = event_target_value(&ev);
                shown.set(SHOWN.iter().find(|(k, _)| *k == v).map_or("extracted", |(k, _)| *k));
                offset.set(0);
            }>
                {labels.into_iter().map(|(k, label)| view! { <option value=k>{label}</option> }).collect_view()}
            </select>
            <input id="memory-search" type="search" placeholder="Search memories" prop:value=move || search.get()
                on:input=move |ev| { offset.set(0); search.set(event_target_value(&ev)); }/>
            <label class="check"><input type="checkbox" prop:checked=move || history.get()
                on:change=move |ev| { offset.set(0); history.set(event_target_checked(&ev)); }/>"Include invalidated"</label>
        </div>
        {move || loaded(page.get(), move |p: Page<Memory>| {
            let total = p.total as usize;
            view! {
                {(total == 0).then(|| view! { <p class="muted">"No memories match."</p> })}
                <ul class="memories">{p.items.into_iter().map(memory_row).collect_view()}</ul>
                {(total > PAGE_ROWS).then(|| pager("memory-pager", total, offset))}
            }
        })}
    }
}

fn timeline(d: &EntityDetail) -> Vec<(chrono::DateTime<chrono::Utc>, String, String)> {
    let mut items: Vec<_> = d
        .memories
        .iter()
        .filter(|m| m.kind != MemoryKind::Episode)
        .map(|m| (m.valid_from, m.kind.as_str().to_owned(), m.text.clone()))
        .chain(
            d.memories.iter().filter_map(|m| m.invalidated_at.map(|t| (t, "invalidated".to_owned(), m.text.clone()))),
        )
        .chain(
            d.sessions
                .iter()
                .map(|s| (s.created_at, "session".to_owned(), format!("{} started ({})", s.id, s.process))),
        )
        .collect();
    items.sort_by_key(|i| std::cmp::Reverse(i.0));
    items
}
