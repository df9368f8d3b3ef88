//! The integration tests of baton-core, in one binary.

mod common;
mod crafted;
mod events;
mod fold;
mod fold_oversight;
mod log;
mod properties;
mod render;
mod vectors;
mod verify;
