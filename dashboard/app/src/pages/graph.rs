//! The knowledge-graph view: Cytoscape.js draws and lays out the graph (pan, zoom, select);
//! this module feeds it nodes and edges and shows the selected node's edges and memories.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use memori_types::admin::{EntityDetail, GraphView};
use wasm_bindgen::prelude::*;

use crate::api::{self, seg};
use crate::components::when;

#[wasm_bindgen]
extern "C" {
    /// `graph.js`: draws `data` (`{nodes, edges}` as JSON) into `container` and calls
    /// `on_select(node_id)` when a node is tapped.
    #[wasm_bindgen(js_namespace = memoriGraph, js_name = render)]
    fn render_graph(container: &web_sys::HtmlElement, data: &str, on_select: &js_sys::Function);
}

#[component]
pub(crate) fn GraphPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let history = RwSignal::new(false);
    let data = LocalResource::new(move || {
        let (id, h) = (id(), history.get());
        async move {
            let g = api::get::<GraphView>(&format!("/entities/{}/graph?history={h}", seg(&id))).await?;
            let d = api::get::<EntityDetail>(&format!("/entities/{}", seg(&id))).await?;
            Ok::<_, api::Failure>((g, d))
        }
    });
    let selected = RwSignal::new(None::<i64>);
    let container = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        let (Some(Ok((g, _))), Some(div)) = (data.get(), container.get()) else { return };
        let json = serde_json::to_string(&g).unwrap_or_default();
        let cb = Closure::<dyn FnMut(String)>::new(move |node: String| selected.set(node.parse().ok()));
        render_graph(&div, &json, cb.as_ref().unchecked_ref());
        // The graph lives as long as the page; Cytoscape keeps the callback.
        cb.forget();
    });
    view! {
        <p><A href=move || format!("/entities/{}", seg(&id()))>{move || format!("← {}", id())}</A></p>
        <h1>"Knowledge graph"</h1>
        <label class="check"><input type="checkbox" prop:checked=move || history.get()
            on:change=move |ev| history.set(event_target_checked(&ev))/>"Show invalidated statements"</label>
        <div class="graph-layout">
            <div id="graph" class="graph" node_ref=container></div>
            <aside class="panel">
                {move || match (data.get(), selected.get()) {
                    (Some(Ok((g, d))), Some(node)) => {
                        let name_of = |n: i64| g.nodes.iter().find(|x| x.id == n).map(|x| x.name.clone()).unwrap_or_default();
                        let this = g.nodes.iter().find(|n| n.id == node).cloned();
                        let edges: Vec<_> = g.edges.iter().filter(|e| e.source == node || e.target == node).cloned().collect();
                        let memory_ids: Vec<i64> = edges.iter().filter_map(|e| e.memory_id).collect();
                        let memories: Vec<_> = d.memories.iter().filter(|m| memory_ids.contains(&m.id)).cloned().collect();
                        view! {
                            <h2 id="graph-selected">{this.as_ref().map(|n| n.name.clone())}</h2>
                            <p class="muted">{this.map(|n| n.node_type)}</p>
                            <h3>"Statements"</h3>
                            <ul>{edges.into_iter().map(|e| view! {
                                <li class:invalidated=e.invalidated_at.is_some()>
                                    {format!("{} —{}→ {}", name_of(e.source), e.predicate, name_of(e.target))}
                                    <span class="muted">{format!(" since {}", when(e.valid_from))}</span>
                                </li>
                            }).collect_view()}</ul>
                            <h3>"Memories"</h3>
                            <ul>{memories.into_iter().map(|m| view! {
                                <li><A href=format!("/memories/{}", m.id)>{m.text}</A></li>
                            }).collect_view()}</ul>
                        }.into_any()
                    }
                    (Some(Ok((g, _))), None) => view! {
                        <p class="muted">{format!("{} nodes, {} edges. Drag to pan, scroll to zoom, click a node.", g.nodes.len(), g.edges.len())}</p>
                    }.into_any(),
                    (Some(Err(e)), _) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    (None, _) => view! { <p class="loading">"Loading…"</p> }.into_any(),
                }}
            </aside>
        </div>
    }
}
