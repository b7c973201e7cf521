//! One memory: its facts, validity, provenance (the source messages), and for admins the
//! correction form.
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use memori_types::admin::{MemoryDetail, MemoryPatch};
use memori_types::model::MemoryKind;

use crate::api::{self, seg};
use crate::components::{ErrorLine, is_admin, loaded, message_view, param, validity, when};

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
    let status = RwSignal::new(None::<String>);
    let text = RwSignal::new(String::new());
    let kind = RwSignal::new(String::new());
    let importance = RwSignal::new(String::new());
    // What the form was loaded with: only fields the operator changed are sent (and audited).
    let original = RwSignal::new((String::new(), String::new(), String::new()));
    let navigate = use_navigate();
    let save = move |_| {
        status.set(None);
        let (t0, k0, i0) = original.get_untracked();
        let (t, k, i) = (text.get_untracked(), kind.get_untracked(), importance.get_untracked());
        let importance = if i.trim() == i0 {
            None
        } else {
            match i.trim().parse::<f64>() {
                Ok(x) if (0.0..=1.0).contains(&x) => Some(x),
                _ => return error.set(Some(format!("importance {i:?} is not a number from 0 to 1"))),
            }
        };
        let patch = MemoryPatch {
            text: (t != t0).then_some(t),
            kind: (k != k0).then(|| MemoryKind::ALL.into_iter().find(|x| x.as_str() == k)).flatten(),
            importance,
        };
        if patch.text.is_none() && patch.kind.is_none() && patch.importance.is_none() {
            error.set(None);
            return status.set(Some("Nothing changed.".into()));
        }
        spawn_local(async move {
            match api::patch::<MemoryDetail>(&format!("/memories/{}", id()), &patch).await {
                Ok(_) => {
                    error.set(None);
                    status.set(Some("Saved.".into()));
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
            let loaded_values =
                (d.memory.text.clone(), d.memory.kind.as_str().to_owned(), format!("{:.2}", d.memory.importance));
            text.set(loaded_values.0.clone());
            kind.set(loaded_values.1.clone());
            importance.set(loaded_values.2.clone());
            original.set(loaded_values);
            let episode = d.memory.kind == MemoryKind::Episode;
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
                        <label>"Kind" <select id="memory-kind" disabled=episode title=if episode { "an episode is a verbatim message; its kind stays" } else { "" }
                            prop:value=move || kind.get() on:change=move |ev| kind.set(event_target_value(&ev))>
                            {MemoryKind::ALL.into_iter().filter(|k| episode || *k != MemoryKind::Episode).map(|k| view! {
                                <option value=k.as_str()>{k.as_str()}</option>
                            }).collect_view()}
                        </select></label>
                        <label>"Importance (0–1)" <input id="memory-importance" prop:value=move || importance.get()
                            on:input=move |ev| importance.set(event_target_value(&ev))/></label>
                        <button id="memory-save" on:click=save>"Save"</button>
                        <button class="danger" on:click=move |_| remove(entity.clone())>"Delete memory"</button>
                        {move || status.get().map(|s| view! { <p class="ok" id="memory-status">{s}</p> })}
                    </div>
                })}
            }
        })}
    }
}
