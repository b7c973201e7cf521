//! One entity: its memories by kind, its sessions, a timeline, and links to export, graph,
//! playground and erasure.
use leptos::prelude::*;
use leptos_router::components::A;
use memori_types::admin::EntityDetail;
use memori_types::model::{Memory, MemoryKind};

use crate::api::{self, seg};
use crate::components::{loaded, param, validity, when};

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
            let memories = d.memories.clone();
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
                    "sessions" => view! {
                        <table>
                            <thead><tr><th>"Session"</th><th>"Process"</th><th>"Messages"</th><th>"From"</th><th>"To"</th></tr></thead>
                            <tbody>{sessions.clone().into_iter().map(|s| view! {
                                <tr>
                                    <td><A href=format!("/entities/{}/sessions/{}", seg(&e.id), seg(&s.id)) attr:class="session-link">{s.id.clone()}</A></td>
                                    <td>{s.process}</td><td>{s.messages}</td>
                                    <td>{when(s.created_at)}</td><td>{when(s.last_seen_at)}</td>
                                </tr>
                            }).collect_view()}</tbody>
                        </table>
                    }.into_any(),
                    "timeline" => view! {
                        <ul class="timeline">{timeline.clone().into_iter().map(|(t, what, text)| view! {
                            <li><span class="muted">{when(t)}</span>" "<b>{what}</b>" "{text}</li>
                        }).collect_view()}</ul>
                    }.into_any(),
                    _ => by_kind(&memories).into_any(),
                }}
            }
        })}
    }
}

fn by_kind(memories: &[Memory]) -> impl IntoView {
    MemoryKind::ALL
        .into_iter()
        .filter_map(|k| {
            let of_kind: Vec<Memory> = memories.iter().filter(|m| m.kind == k).cloned().collect();
            (!of_kind.is_empty()).then(|| {
                let current = of_kind.iter().filter(|m| m.invalidated_at.is_none()).count();
                view! {
                    <h3>{format!("{} ({current} current, {} invalidated)", k.as_str(), of_kind.len() - current)}</h3>
                    <ul class="memories">{of_kind.into_iter().map(memory_row).collect_view()}</ul>
                }
            })
        })
        .collect_view()
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
