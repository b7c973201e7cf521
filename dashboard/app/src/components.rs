//! Widgets and helpers every page uses: the signed-in operator, error lines, loading states,
//! dates, tables of audit records and receipts, memory badges, transcripts, the recall
//! settings form. Depends on the API client only.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use memori_types::admin::{AuditEntry, OperatorRole, TranscriptMessage};
use memori_types::http::Me;
use memori_types::model::{Memory, Part};
use memori_types::settings::{Fusion, RecallConfig};

use crate::api;

/// The signed-in operator, shared by every page (`None`: show the sign-in form).
#[derive(Clone, Copy)]
pub(crate) struct Auth(pub(crate) RwSignal<Option<Me>>);

/// Whether the operator may change things.
pub(crate) fn is_admin() -> bool {
    use_context::<Auth>().is_some_and(|a| a.0.with(|m| m.as_ref().is_some_and(|m| m.role == OperatorRole::Admin)))
}

/// A message line for failures, empty when there is none.
#[component]
pub(crate) fn ErrorLine(error: RwSignal<Option<String>>) -> impl IntoView {
    move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })
}

/// Show a loaded value, a loading line, or the failure.
pub(crate) fn loaded<T: Clone + Send + Sync + 'static, V: IntoView + 'static>(
    r: Option<api::ApiResult<T>>,
    f: impl FnOnce(T) -> V,
) -> AnyView {
    match r {
        None => view! { <p class="loading">"Loading…"</p> }.into_any(),
        Some(Ok(v)) => f(v).into_any(),
        Some(Err(e)) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
    }
}

/// A date-time as `YYYY-MM-DD HH:MM` (UTC).
pub(crate) fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// A route parameter of the current page.
pub(crate) fn param(name: &'static str) -> impl Fn() -> String + Copy + Send + Sync + 'static {
    let params = use_params_map();
    move || params.read().get(name).unwrap_or_default()
}

/// A memory's validity as a badge.
pub(crate) fn validity(m: &Memory) -> AnyView {
    match m.invalidated_at {
        None => view! { <span class="badge ok">"current"</span> }.into_any(),
        Some(t) => view! { <span class="badge old">{format!("invalidated {}", when(t))}</span> }.into_any(),
    }
}

/// Audit records as a table (details are counts and field names, never end-user text).
#[component]
pub(crate) fn AuditTable(entries: Vec<AuditEntry>) -> impl IntoView {
    view! {
        <table class="audit">
            <thead><tr><th>"When"</th><th>"Who"</th><th>"What"</th><th>"Target"</th><th>"Details"</th></tr></thead>
            <tbody>{entries.into_iter().map(|a| view! {
                <tr>
                    <td>{when(a.at)}</td><td>{a.actor}</td><td class="mono">{a.action}</td>
                    <td>{format!("{} {}", a.target_kind, a.target_ref.unwrap_or_default())}</td>
                    <td class="mono">{a.details.to_string()}</td>
                </tr>
            }).collect_view()}</tbody>
        </table>
    }
}

/// Rows on one page of a long list.
pub(crate) const PAGE_ROWS: usize = 50;

/// "← Previous 1–50 of 434 Next →" for a list of `total` rows shown from `offset`.
pub(crate) fn pager(id: &'static str, total: usize, offset: RwSignal<usize>) -> impl IntoView {
    let at_end = move || offset.get() + PAGE_ROWS >= total;
    view! {
        <p class="pager" id=id>
            <button disabled=move || offset.get() == 0
                on:click=move |_| offset.update(|o| *o = o.saturating_sub(PAGE_ROWS))>"← Previous"</button>
            {move || { let o = offset.get(); format!(" {}–{} of {total} ", (o + 1).min(total), (o + PAGE_ROWS).min(total)) }}
            <button disabled=at_end
                on:click=move |_| offset.update(|o| *o += PAGE_ROWS)>"Next →"</button>
        </p>
    }
}

/// Rows removed per table, as an erasure or retention receipt shows them.
pub(crate) fn counts(removed: std::collections::BTreeMap<String, u64>) -> impl IntoView {
    view! {
        <table class="receipt">
            <thead><tr><th>"Table"</th><th>"Rows removed"</th></tr></thead>
            <tbody>{removed.into_iter().map(|(t, n)| view! { <tr><td class="mono">{t}</td><td>{n}</td></tr> }).collect_view()}</tbody>
        </table>
    }
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

/// The fields of a settings form whose text is not a valid value (by input id), so that no
/// one saves a value the form could not read.
#[derive(Clone, Copy)]
pub(crate) struct Invalid(pub(crate) RwSignal<Vec<&'static str>>);

impl Invalid {
    pub(crate) fn new() -> Self {
        Self(RwSignal::new(Vec::new()))
    }

    /// `Err` with a message naming the bad fields, for a Save button to show instead of saving.
    pub(crate) fn check(self) -> Result<(), String> {
        let bad = self.0.get_untracked();
        if bad.is_empty() { Ok(()) } else { Err(format!("fix the fields marked in red first ({})", bad.join(", "))) }
    }
}

/// Parse a number typed into a settings field; the message says what was wrong.
fn number<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    let v = v.trim();
    if v.is_empty() {
        return Err("a number is needed".into());
    }
    v.parse().map_err(|_| format!("{v:?} is not a number (no units: days are a plain number)"))
}

/// A number input bound to one field of a [`RecallConfig`]. Text that is not a valid value
/// stays as typed, marked with its error, and keeps the form from being saved.
fn num_field(
    id: &'static str,
    label: &'static str,
    config: RwSignal<RecallConfig>,
    invalid: Invalid,
    get: fn(&RecallConfig) -> String,
    set: fn(&mut RecallConfig, &str) -> Result<(), String>,
) -> impl IntoView {
    let problem = RwSignal::new(None::<String>);
    let typed = RwSignal::new(None::<String>);
    let change = move |ev: leptos::ev::Event| {
        let v = event_target_value(&ev);
        let mut next = config.get_untracked();
        match set(&mut next, &v) {
            Ok(()) => {
                config.set(next);
                typed.set(None);
                problem.set(None);
                invalid.0.update(|b| b.retain(|f| *f != id));
            }
            Err(e) => {
                typed.set(Some(v));
                problem.set(Some(e));
                invalid.0.update(|b| {
                    if !b.contains(&id) {
                        b.push(id);
                    }
                });
            }
        }
    };
    view! {
        <label>{label}
            <input id=id inputmode="decimal" class:bad=move || problem.with(Option::is_some)
                aria-invalid=move || if problem.with(Option::is_some) { "true" } else { "false" }
                prop:value=move || typed.get().unwrap_or_else(|| config.with(get)) on:change=change/>
            {move || problem.get().map(|e| view! { <span class="error field-error" role="alert">{e}</span> })}
        </label>
    }
}

/// Every recall knob, editing `config` in place; fields that do not parse are listed in
/// `invalid`.
#[component]
pub(crate) fn RecallConfigForm(config: RwSignal<RecallConfig>, invalid: Invalid) -> impl IntoView {
    view! {
        <fieldset class="knobs">
            <legend>"Ranking"</legend>
            {num_field("set-vector-weight", "Vector weight", config, invalid, |c| c.vector_weight.to_string(), |c, v| { c.vector_weight = number(v)?; Ok(()) })}
            {num_field("set-lexical-weight", "Lexical (BM25) weight", config, invalid, |c| c.lexical_weight.to_string(), |c, v| { c.lexical_weight = number(v)?; Ok(()) })}
            {num_field("set-graph-weight", "Graph weight", config, invalid, |c| c.graph_weight.to_string(), |c, v| { c.graph_weight = number(v)?; Ok(()) })}
            {num_field("set-context-weight", "Neighbouring turns' share of a turn's BM25", config, invalid, |c| c.context_weight.to_string(), |c, v| { c.context_weight = number(v)?; Ok(()) })}
            {num_field("set-speaker-weight", "Lift for the person the query names", config, invalid, |c| c.speaker_weight.to_string(), |c, v| { c.speaker_weight = number(v)?; Ok(()) })}
            <label>"Fusion"
                <select id="set-fusion" prop:value=move || config.with(|c| match c.fusion { Fusion::Weighted => "weighted", Fusion::Rrf { .. } => "rrf" })
                    on:change=move |ev| { let v = event_target_value(&ev); config.update(|c| c.fusion = if v == "rrf" { Fusion::Rrf { k: 60.0 } } else { Fusion::Weighted }); }>
                    <option value="weighted">"weighted sum"</option>
                    <option value="rrf">"reciprocal rank (k = 60)"</option>
                </select>
            </label>
            {num_field("set-half-life", "Decay half-life, days (empty: off)", config, invalid, |c| c.half_life_days.map(|h| h.to_string()).unwrap_or_default(), |c, v| { c.half_life_days = if v.trim().is_empty() { None } else { Some(number(v)?) }; Ok(()) })}
            {num_field("set-importance-weight", "Importance weight", config, invalid, |c| c.importance_weight.to_string(), |c, v| { c.importance_weight = number(v)?; Ok(()) })}
            {num_field("set-mention-weight", "Frequency (mentions) weight", config, invalid, |c| c.mention_weight.to_string(), |c, v| { c.mention_weight = number(v)?; Ok(()) })}
            {num_field("set-time-weight", "Time-phrase weight", config, invalid, |c| c.time_weight.to_string(), |c, v| { c.time_weight = number(v)?; Ok(()) })}
            {num_field("set-limit", "Memories returned", config, invalid, |c| c.limit.to_string(), |c, v| { c.limit = number(v)?; Ok(()) })}
            {num_field("set-depth", "Candidates per source", config, invalid, |c| c.depth.to_string(), |c, v| { c.depth = number(v)?; Ok(()) })}
            {num_field("set-min-score", "Minimum score (drop weaker results)", config, invalid, |c| c.min_score.to_string(), |c, v| { c.min_score = number(v)?; Ok(()) })}
            {num_field("set-token-budget", "Token budget of the block", config, invalid, |c| c.token_budget.to_string(), |c, v| { c.token_budget = number(v)?; Ok(()) })}
            <label class="check"><input type="checkbox" prop:checked=move || config.with(|c| c.neighbours)
                on:change=move |ev| { let on = event_target_checked(&ev); config.update(|c| c.neighbours = on); }/>
                "Add the messages around a recalled message"</label>
        </fieldset>
    }
}
