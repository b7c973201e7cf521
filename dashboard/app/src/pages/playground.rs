//! The recall playground: rank an entity's memories with unsaved settings, see every score
//! explained and the exact block that would be injected.
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;
use memori_types::http::{RecallPreview, RecallPreviewRequest, SaveSettings, SettingsView};
use memori_types::model::Explanation;
use memori_types::settings::{RecallConfig, Settings};

use crate::api;
use crate::components::{ErrorLine, Invalid, RecallConfigForm, is_admin};

/// A score explanation as a nested list.
fn explanation(e: &Explanation) -> AnyView {
    let details = e.details.iter().map(explanation).collect_view();
    view! {
        <li><span class="num">{format!("{:.4}", e.value)}</span>" "{e.label.clone()}
            {(!e.details.is_empty()).then(|| view! { <ul>{details}</ul> })}
        </li>
    }
    .into_any()
}

#[component]
pub(crate) fn Playground() -> impl IntoView {
    let query_map = use_query_map();
    let entity = RwSignal::new(query_map.read_untracked().get("entity").unwrap_or_default());
    let query = RwSignal::new(String::new());
    let history = RwSignal::new(false);
    let config = RwSignal::new(RecallConfig::default());
    let invalid = Invalid::new();
    let base = RwSignal::new(None::<i64>);
    let result = RwSignal::new(None::<Result<RecallPreview, String>>);
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(None::<String>);
    spawn_local(async move {
        if let Ok(s) = api::get::<SettingsView>("/settings").await {
            config.set(s.settings.recall);
            base.set(Some(s.version));
        }
    });
    let run = move || {
        let req = RecallPreviewRequest {
            entity: entity.get_untracked(),
            query: query.get_untracked(),
            config: Some(config.get_untracked()),
            history: history.get_untracked(),
        };
        spawn_local(async move {
            result.set(Some(api::post::<RecallPreview>("/recall/preview", &req).await.map_err(|e| e.to_string())));
        });
    };
    let save = move |_| {
        saved.set(None);
        if let Err(e) = invalid.check() {
            return error.set(Some(e));
        }
        spawn_local(async move {
            let Ok(current) = api::get::<SettingsView>("/settings").await else { return };
            let body = SaveSettings {
                base: base.get_untracked(),
                settings: Settings { recall: config.get_untracked(), ..current.settings },
            };
            match api::put::<SettingsView>("/settings", &body).await {
                Ok(v) => {
                    base.set(Some(v.version));
                    saved.set(Some(format!("saved as version {}", v.version)));
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <h1>"Recall playground"</h1>
        <p class="muted">"Rank an entity's memories for a query with the settings below. Changes apply here at once; save them to use them in every agent."</p>
        <div class="playground">
            <div>
                <form class="form" on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); run(); }>
                    <label>"Entity" <input id="pg-entity" prop:value=move || entity.get() on:input=move |ev| entity.set(event_target_value(&ev))/></label>
                    <label>"Query" <input id="pg-query" prop:value=move || query.get() on:input=move |ev| query.set(event_target_value(&ev))/></label>
                    <label class="check"><input type="checkbox" prop:checked=move || history.get() on:change=move |ev| history.set(event_target_checked(&ev))/>"Include invalidated memories"</label>
                    <button id="pg-run" type="submit">"Recall"</button>
                </form>
                <div on:change=move |_| if result.with_untracked(Option::is_some) { run() }>
                    <RecallConfigForm config invalid/>
                </div>
                {move || is_admin().then(|| view! { <button id="pg-save" on:click=save>"Save these settings"</button> })}
                <ErrorLine error/>
                {move || saved.get().map(|s| view! { <p class="ok">{s}</p> })}
            </div>
            <div>
                {move || match result.get() {
                    None => view! { <p class="muted">"Results appear here."</p> }.into_any(),
                    Some(Err(e)) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                    Some(Ok(p)) => view! {
                        <p class="muted" id="pg-summary">{format!("{} memories in {:.1} ms; block {} tokens", p.results.len(), p.took_ms, p.block_tokens)}</p>
                        <ol class="results">{p.results.into_iter().map(|r| {
                            let exp = explanation(&r.explanation);
                            view! {
                                <li class="result">
                                    <div><span class="num">{format!("{:.4}", r.score)}</span>" "
                                        <span class="badge">{r.memory.kind.as_str()}</span>" "
                                        <A href=format!("/memories/{}", r.memory.id)>{r.memory.text.clone()}</A></div>
                                    <details><summary>"why this score"</summary><ul class="explain">{exp}</ul></details>
                                </li>
                            }
                        }).collect_view()}</ol>
                        <h2>"Injected block"</h2>
                        <pre id="pg-block" class="block">{p.block.unwrap_or_else(|| "(nothing would be injected)".into())}</pre>
                    }.into_any(),
                }}
            </div>
        </div>
    }
}
