//! The dashboard server behind `memori serve`, as a library so that tests can drive its router
//! without a socket. The CLI (`src/main.rs`) is glue around it and memori-rig.

pub mod server;
