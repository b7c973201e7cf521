//! Browsing: overview, entity list, entity detail, transcripts, memory detail.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use memori_types::admin::{EntityDetail, EntitySummary, MemoryDetail, MemoryPatch, Overview, Page, TranscriptMessage};
use memori_types::model::{Memory, MemoryKind, Part};

use crate::api::{self, seg};
use crate::app::{ErrorLine, is_admin, loaded, when};

#[component]
pub(crate) fn Overview() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let data = LocalResource::new(move || {
        reload.track();
        async move { api::get::<Overview>("/overview").await }
    });
    let error = RwSignal::new(None::<String>);
    let retry = move |path: String| {
        spawn_local(async move {
            match api::post::<serde_json::Value>(&path, &serde_json::json!({})).await {
                Ok(_) => reload.update(|n| *n += 1),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <h1>"Overview"</h1>
        <ErrorLine error/>
        {move || loaded(data.get(), |o: Overview| {
            let retry_all = retry;
            let dead_class = if o.jobs.dead > 0 { "card bad" } else { "card" };
            view! {
                <section class="cards">
                    <div class="card"><b id="count-entities">{o.entities}</b>" entities"</div>
                    <div class="card"><b>{o.sessions}</b>" sessions"</div>
                    <div class="card"><b>{o.messages}</b>" messages"</div>
                    <div class="card"><b>{o.memories}</b>" current memories"</div>
                    <div class="card"><b>{o.invalidated}</b>" invalidated"</div>
                    <div class="card"><b>{o.graph_edges}</b>" graph edges"</div>
                </section>
                <h2>"Augmentation queue"</h2>
                <section class="cards">
                    <div class="card"><b>{o.jobs.pending}</b>" pending"</div>
                    <div class="card"><b>{o.jobs.running}</b>" running"</div>
                    <div class="card"><b>{o.jobs.done}</b>" done"</div>
                    <div class=dead_class><b>{o.jobs.dead}</b>" dead letters"</div>
                </section>
                {(!o.failing_jobs.is_empty()).then(|| view! {
                    <table>
                        <thead><tr><th>"Job"</th><th>"Status"</th><th>"Attempts"</th><th>"Last error"</th><th></th></tr></thead>
                        <tbody>
                            {o.failing_jobs.into_iter().map(|j| {
                                let path = format!("/jobs/{}/retry", j.id);
                                view! {
                                    <tr>
                                        <td>{j.id}</td><td>{j.status}</td>
                                        <td>{format!("{}/{}", j.attempts, j.max_attempts)}</td>
                                        <td class="mono">{j.last_error.unwrap_or_default()}</td>
                                        <td>{is_admin().then(|| view! {
                                            <button on:click=move |_| retry_all(path.clone())>"Retry"</button>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    {is_admin().then(|| view! {
                        <button on:click=move |_| retry_all("/jobs/retry-dead".into())>"Retry all dead letters"</button>
                    })}
                })}
                <h2>"Recent activity"</h2>
                <crate::compliance::AuditTable entries=o.recent/>
            }
        })}
    }
}

#[component]
pub(crate) fn Entities() -> impl IntoView {
    let search = RwSignal::new(String::new());
    let offset = RwSignal::new(0u64);
    const LIMIT: u64 = 25;
    let data = LocalResource::new(move || {
        let q = search.get();
        let off = offset.get();
        async move { api::get::<Page<EntitySummary>>(&format!("/entities?q={}&offset={off}&limit={LIMIT}", seg(&q))).await }
    });
    view! {
        <h1>"Entities"</h1>
        <input id="entity-search" type="search" placeholder="Search entity ids"
            prop:value=move || search.get()
            on:input=move |ev| { offset.set(0); search.set(event_target_value(&ev)); }/>
        {move || loaded(data.get(), |p: Page<EntitySummary>| {
            let (total, off) = (p.total, p.offset);
            view! {
                <table class="entities">
                    <thead><tr><th>"Entity"</th><th>"Memories"</th><th>"Sessions"</th><th>"Messages"</th><th>"Last activity"</th></tr></thead>
                    <tbody>
                        {p.items.into_iter().map(|e| view! {
                            <tr>
                                <td><A href=format!("/entities/{}", seg(&e.id)) attr:class="entity-link">{e.id.clone()}</A></td>
                                <td>{e.memories}</td><td>{e.sessions}</td><td>{e.messages}</td>
                                <td>{when(e.last_seen_at)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                <p class="pager" id="pager">
                    <button disabled={off == 0} on:click=move |_| offset.update(|o| *o = o.saturating_sub(LIMIT))>"← Previous"</button>
                    {format!(" {}–{} of {total} ", (off + 1).min(total), (off + LIMIT).min(total))}
                    <button disabled={off + LIMIT >= total} on:click=move |_| offset.update(|o| *o += LIMIT)>"Next →"</button>
                </p>
            }
        })}
    }
}

fn param(name: &'static str) -> impl Fn() -> String + Copy + Send + Sync + 'static {
    let params = use_params_map();
    move || params.read().get(name).unwrap_or_default()
}

/// A memory's validity as a badge.
fn validity(m: &Memory) -> AnyView {
    match m.invalidated_at {
        None => view! { <span class="badge ok">"current"</span> }.into_any(),
        Some(t) => view! { <span class="badge old">{format!("invalidated {}", when(t))}</span> }.into_any(),
    }
}

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

/// One message of a transcript: text, tool calls and results, reasoning, attachments.
pub(crate) fn message_view(m: TranscriptMessage) -> impl IntoView {
    let who = m.name.clone().unwrap_or_else(|| m.role.as_str().to_owned());
    view! {
        <div class=format!("msg {}", m.role.as_str()) id=format!("msg-{}", m.id)>
            <div class="meta">{format!("{who} · {} · #{}", when(m.said_at), m.id)}</div>
            {m.parts.into_iter().map(|p| match p {
                Part::Text { text } => view! { <p class="text">{text}</p> }.into_any(),
                Part::ToolCall { id, name, arguments } => view! {
                    <pre class="tool">{format!("→ tool call {name} [{id}]\n{}", serde_json::to_string_pretty(&arguments).unwrap_or_default())}</pre>
                }.into_any(),
                Part::ToolResult { call_id, name, content, is_error } => view! {
                    <pre class="tool" class:bad=is_error>{format!("← {name} [{call_id}]{}\n{}", if is_error { " failed" } else { "" }, serde_json::to_string_pretty(&content).unwrap_or_default())}</pre>
                }.into_any(),
                Part::Reasoning { text } => view! { <p class="reasoning">{text}</p> }.into_any(),
                Part::Attachment { kind, description } => view! {
                    <p class="muted">{format!("[{kind}] {}", description.unwrap_or_default())}</p>
                }.into_any(),
            }).collect_view()}
        </div>
    }
}

#[component]
pub(crate) fn SessionPage() -> impl IntoView {
    let id = param("id");
    let session = param("session");
    let data = LocalResource::new(move || {
        let (id, session) = (id(), session());
        async move {
            api::get::<Vec<TranscriptMessage>>(&format!("/entities/{}/sessions/{}", seg(&id), seg(&session))).await
        }
    });
    view! {
        <p><A href=move || format!("/entities/{}", seg(&id()))>{move || format!("← {}", id())}</A></p>
        <h1>{move || format!("Session {}", session())}</h1>
        {move || loaded(data.get(), |msgs: Vec<TranscriptMessage>| view! {
            <div class="transcript">{msgs.into_iter().map(message_view).collect_view()}</div>
        })}
    }
}

#[component]
pub(crate) fn MemoryPage() -> impl IntoView {
    let id = param("id");
    let reload = RwSignal::new(0u32);
    let data = LocalResource::new(move || {
        reload.track();
        let id = id();
        async move { api::get::<MemoryDetail>(&format!("/memories/{}", seg(&id))).await }
    });
    let error = RwSignal::new(None::<String>);
    let text = RwSignal::new(String::new());
    let kind = RwSignal::new(String::new());
    let importance = RwSignal::new(String::new());
    let navigate = use_navigate();
    let save = move |_| {
        let patch = MemoryPatch {
            text: Some(text.get_untracked()),
            kind: MemoryKind::ALL.into_iter().find(|k| *k != MemoryKind::Episode && k.as_str() == kind.get_untracked()),
            importance: importance.get_untracked().parse().ok(),
        };
        spawn_local(async move {
            match api::patch::<MemoryDetail>(&format!("/memories/{}", id()), &patch).await {
                Ok(_) => {
                    error.set(None);
                    reload.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let remove = move |entity: String| {
        let navigate = navigate.clone();
        let ok = web_sys::window().and_then(|w| w.confirm_with_message("Delete this memory?").ok()).unwrap_or(false);
        if !ok {
            return;
        }
        spawn_local(async move {
            match api::delete::<()>(&format!("/memories/{}", id())).await {
                Ok(()) => navigate(&format!("/entities/{}", seg(&entity)), Default::default()),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <ErrorLine error/>
        {move || loaded(data.get(), |d: MemoryDetail| {
            text.set(d.memory.text.clone());
            kind.set(d.memory.kind.as_str().to_owned());
            importance.set(format!("{:.2}", d.memory.importance));
            let m = d.memory.clone();
            let entity = d.entity.clone();
            let remove = remove.clone();
            view! {
                <p><A href=format!("/entities/{}", seg(&d.entity))>{format!("← {}", d.entity)}</A></p>
                <h1 class="memory-text">{m.text.clone()}</h1>
                <table class="facts">
                    <tr><th>"Kind"</th><td>{m.kind.as_str()}</td></tr>
                    <tr><th>"Validity"</th><td>{validity(&m)}{d.invalidated_by.map(|n| view! {
                        " by " <A href=format!("/memories/{}", n.id)>{n.text}</A>
                    })}</td></tr>
                    <tr><th>"Valid from"</th><td>{when(m.valid_from)}</td></tr>
                    <tr><th>"Importance"</th><td>{format!("{:.2}", m.importance)}</td></tr>
                    <tr><th>"Confidence"</th><td>{format!("{:.2}", m.confidence)}</td></tr>
                    <tr><th>"Mentions"</th><td>{m.mention_count}</td></tr>
                    <tr><th>"Last seen"</th><td>{when(m.last_seen_at)}</td></tr>
                    <tr><th>"Session"</th><td>{m.session.clone().unwrap_or_default()}</td></tr>
                    <tr><th>"Process"</th><td>{m.process.unwrap_or_default()}</td></tr>
                </table>
                <h2>"Provenance"</h2>
                <div class="transcript">{d.sources.into_iter().map(|s| {
                    let link = format!("/entities/{}/sessions/{}", seg(&d.entity), seg(&s.session));
                    view! { <A href=link>"open session"</A>{message_view(s)} }
                }).collect_view()}</div>
                {is_admin().then(|| view! {
                    <h2>"Correct"</h2>
                    <div class="form">
                        <label>"Text" <textarea id="memory-text" prop:value=move || text.get()
                            on:input=move |ev| text.set(event_target_value(&ev))></textarea></label>
                        <label>"Kind" <select prop:value=move || kind.get() on:change=move |ev| kind.set(event_target_value(&ev))>
                            {MemoryKind::ALL.into_iter().filter(|k| *k != MemoryKind::Episode).map(|k| view! {
                                <option value=k.as_str()>{k.as_str()}</option>
                            }).collect_view()}
                        </select></label>
                        <label>"Importance (0–1)" <input prop:value=move || importance.get()
                            on:input=move |ev| importance.set(event_target_value(&ev))/></label>
                        <button id="memory-save" on:click=save>"Save"</button>
                        <button class="danger" on:click=move |_| remove(entity.clone())>"Delete memory"</button>
                    </div>
                })}
            }
        })}
    }
}
