//! One module per page of the app; the shell (`app.rs`) routes to them.

pub(crate) mod audit;
pub(crate) mod compliance;
pub(crate) mod entities;
pub(crate) mod entity;
pub(crate) mod graph;
pub(crate) mod keys;
pub(crate) mod login;
pub(crate) mod memory;
pub(crate) mod overview;
pub(crate) mod playground;
pub(crate) mod session;
pub(crate) mod settings;
