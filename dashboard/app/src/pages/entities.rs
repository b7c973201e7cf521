//! The entity list: search and pages.
use leptos::prelude::*;
use leptos_router::components::A;
use memori_types::admin::{EntitySummary, Page};

use crate::api::{self, seg};
use crate::components::{loaded, when};

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
