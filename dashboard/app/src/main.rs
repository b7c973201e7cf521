//! The memori dashboard's browser app: Leptos, client-side rendered, talking to `/api/v1`.
//!
//! Stored text (messages, memories, entity ids) is only ever rendered as text nodes, never as
//! HTML, so a memory saying `<script>` shows those characters and runs nothing.

// `#[component]` expands to `pub` props structs, which the workspace lint would flag.
#![allow(unreachable_pub)]

mod api;
mod app;
mod compliance;
mod graph;
mod pages;
mod tune;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
