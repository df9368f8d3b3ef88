//! The app's only contact with browser APIs beyond the DOM.

pub mod keys;
pub mod service_worker;
