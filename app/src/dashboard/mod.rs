//! The manager dashboard's rules with no browser API, tested natively: the shapes of the
//! dashboard API's answers (`api`), the board's filters and flags (`board`), the geometry of the
//! SVG charts (`charts`), how durations and figures are written (`format`), and the site
//! configuration form's fields (`site_config_form`).

pub mod api;
pub mod board;
pub mod charts;
pub mod describe;
pub mod format;
pub mod site_config_form;
