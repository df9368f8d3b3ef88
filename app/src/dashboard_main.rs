//! `baton-dashboard`: the manager dashboard (see the library's documentation).

fn main() {
    baton_app::start_dashboard();
}
