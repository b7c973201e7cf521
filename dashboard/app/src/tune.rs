//! Tuning: the recall playground (rank with unsaved settings, see every score explained and
//! the exact block injected) and the settings page (saved, versioned, audited).

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;
use memori_types::http::{RecallPreview, RecallPreviewRequest, SaveSettings, SettingsVersion, SettingsView};
use memori_types::model::Explanation;
use memori_types::settings::{ExtractorChoice, Fusion, RecallConfig, Settings};

use crate::api;
use crate::app::{ErrorLine, is_admin, loaded, when};

/// A number input bound to one field of a [`RecallConfig`].
fn num_field(
    id: &'static str,
    label: &'static str,
    config: RwSignal<RecallConfig>,
    get: fn(&RecallConfig) -> String,
    set: fn(&mut RecallConfig, &str),
) -> impl IntoView {
    view! {
        <label>{label}
            <input id=id inputmode="decimal" prop:value=move || config.with(get)
                on:change=move |ev| { let v = event_target_value(&ev); config.update(|c| set(c, &v)); }/>
        </label>
    }
}

/// Every recall knob, editing `config` in place.
#[component]
pub(crate) fn RecallConfigForm(config: RwSignal<RecallConfig>) -> impl IntoView {
    view! {
        <fieldset class="knobs">
            <legend>"Ranking"</legend>
            {num_field("set-vector-weight", "Vector weight", config, |c| c.vector_weight.to_string(), |c, v| if let Ok(x) = v.parse() { c.vector_weight = x })}
            {num_field("set-lexical-weight", "Lexical (BM25) weight", config, |c| c.lexical_weight.to_string(), |c, v| if let Ok(x) = v.parse() { c.lexical_weight = x })}
            {num_field("set-graph-weight", "Graph weight", config, |c| c.graph_weight.to_string(), |c, v| if let Ok(x) = v.parse() { c.graph_weight = x })}
            <label>"Fusion"
                <select id="set-fusion" prop:value=move || config.with(|c| match c.fusion { Fusion::Weighted => "weighted", Fusion::Rrf { .. } => "rrf" })
                    on:change=move |ev| { let v = event_target_value(&ev); config.update(|c| c.fusion = if v == "rrf" { Fusion::Rrf { k: 60.0 } } else { Fusion::Weighted }); }>
                    <option value="weighted">"weighted sum"</option>
                    <option value="rrf">"reciprocal rank (k = 60)"</option>
                </select>
            </label>
            {num_field("set-half-life", "Decay half-life, days (empty: off)", config, |c| c.half_life_days.map(|h| h.to_string()).unwrap_or_default(), |c, v| c.half_life_days = v.trim().parse().ok())}
            {num_field("set-importance-weight", "Importance weight", config, |c| c.importance_weight.to_string(), |c, v| if let Ok(x) = v.parse() { c.importance_weight = x })}
            {num_field("set-mention-weight", "Frequency (mentions) weight", config, |c| c.mention_weight.to_string(), |c, v| if let Ok(x) = v.parse() { c.mention_weight = x })}
            {num_field("set-time-weight", "Time-phrase weight", config, |c| c.time_weight.to_string(), |c, v| if let Ok(x) = v.parse() { c.time_weight = x })}
            {num_field("set-limit", "Memories returned", config, |c| c.limit.to_string(), |c, v| if let Ok(x) = v.parse() { c.limit = x })}
            {num_field("set-depth", "Candidates per source", config, |c| c.depth.to_string(), |c, v| if let Ok(x) = v.parse() { c.depth = x })}
            {num_field("set-min-score", "Minimum score (drop weaker results)", config, |c| c.min_score.to_string(), |c, v| if let Ok(x) = v.parse() { c.min_score = x })}
            {num_field("set-token-budget", "Token budget of the block", config, |c| c.token_budget.to_string(), |c, v| if let Ok(x) = v.parse() { c.token_budget = x })}
            <label class="check"><input type="checkbox" prop:checked=move || config.with(|c| c.neighbours)
                on:change=move |ev| { let on = event_target_checked(&ev); config.update(|c| c.neighbours = on); }/>
                "Add the messages around a recalled message"</label>
        </fieldset>
    }
}

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
                    <RecallConfigForm config/>
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

#[component]
pub(crate) fn SettingsPage() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let view_data = LocalResource::new(move || {
        reload.track();
        async move { api::get::<SettingsView>("/settings").await }
    });
    let history = LocalResource::new(move || {
        reload.track();
        async move { api::get::<Vec<SettingsVersion>>("/settings/history").await }
    });
    let config = RwSignal::new(RecallConfig::default());
    let offline = RwSignal::new(false);
    let configured = RwSignal::new(String::new());
    let days = RwSignal::new(String::new());
    let per_process = RwSignal::new(String::new());
    let base = RwSignal::new(None::<i64>);
    let error = RwSignal::new(None::<String>);
    let status = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(Ok(v)) = view_data.get() {
            config.set(v.settings.recall.clone());
            offline.set(v.settings.extraction.extractor == ExtractorChoice::Offline);
            configured.set(v.extractor.clone());
            days.set(v.settings.retention.days.map(|d| d.to_string()).unwrap_or_default());
            per_process.set(
                v.settings.retention.processes.iter().map(|(p, d)| format!("{p}={d}")).collect::<Vec<_>>().join("\n"),
            );
            base.set(Some(v.version));
        }
    });
    let save = move |_| {
        let mut settings = Settings { recall: config.get_untracked(), ..Settings::default() };
        settings.extraction.extractor =
            if offline.get_untracked() { ExtractorChoice::Offline } else { ExtractorChoice::Configured };
        let d = days.get_untracked();
        settings.retention.days = if d.trim().is_empty() {
            None
        } else {
            match d.trim().parse() {
                Ok(n) => Some(n),
                Err(_) => return error.set(Some(format!("retention days {d:?} is not a whole number"))),
            }
        };
        for line in per_process.get_untracked().lines().filter(|l| !l.trim().is_empty()) {
            match line.split_once('=').and_then(|(p, n)| Some((p.trim().to_owned(), n.trim().parse().ok()?))) {
                Some((p, n)) => {
                    settings.retention.processes.insert(p, n);
                }
                None => return error.set(Some(format!("{line:?} is not process=days"))),
            }
        }
        let body = SaveSettings { base: base.get_untracked(), settings };
        spawn_local(async move {
            match api::put::<SettingsView>("/settings", &body).await {
                Ok(v) => {
                    error.set(None);
                    status.set(Some(format!("Saved as version {}. Running agents use it within seconds.", v.version)));
                    reload.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <h1>"Settings"</h1>
        {move || loaded(view_data.get(), |v: SettingsView| view! {
            <p class="muted" id="settings-version">{format!("Version {} in effect · extractor {} · embeddings {}", v.version, v.extractor, v.embedder)}</p>
        })}
        <RecallConfigForm config/>
        <fieldset class="knobs">
            <legend>"Extraction"</legend>
            <label>"Extractor for new conversations"
                <select id="set-extractor" prop:value=move || if offline.get() { "offline" } else { "configured" }
                    on:change=move |ev| offline.set(event_target_value(&ev) == "offline")>
                    <option value="configured">{move || format!("as configured in code ({})", configured.get())}</option>
                    <option value="offline">"built-in offline extractor (nothing sent to a model)"</option>
                </select>
            </label>
        </fieldset>
        <fieldset class="knobs">
            <legend>"Retention"</legend>
            <label>"Keep data for days (empty: forever)" <input id="set-retention-days" prop:value=move || days.get() on:input=move |ev| days.set(event_target_value(&ev))/></label>
            <label>"Per process (one process=days per line)" <textarea prop:value=move || per_process.get() on:input=move |ev| per_process.set(event_target_value(&ev))></textarea></label>
        </fieldset>
        {move || is_admin().then(|| view! { <button id="set-save" on:click=save>"Save settings"</button> })}
        <ErrorLine error/>
        {move || status.get().map(|s| view! { <p class="ok" id="settings-status">{s}</p> })}
        <p><A href="/playground">"Try settings in the recall playground before saving →"</A></p>
        <h2>"History"</h2>
        {move || loaded(history.get(), |h: Vec<SettingsVersion>| view! {
            <table>
                <thead><tr><th>"Version"</th><th>"Saved by"</th><th>"When"</th><th>"Token budget"</th><th>"Half-life"</th><th>"Retention"</th></tr></thead>
                <tbody>{h.into_iter().map(|v| view! {
                    <tr class="saved-version">
                        <td>{v.version}</td><td>{v.saved_by}</td><td>{when(v.saved_at)}</td>
                        <td>{v.settings.recall.token_budget}</td>
                        <td>{v.settings.recall.half_life_days.map(|h| format!("{h} d")).unwrap_or_else(|| "off".into())}</td>
                        <td>{v.settings.retention.days.map(|d| format!("{d} d")).unwrap_or_else(|| "forever".into())}</td>
                    </tr>
                }).collect_view()}</tbody>
            </table>
        })}
    }
}
