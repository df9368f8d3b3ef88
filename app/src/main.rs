//! `baton-app`: the tablet's capture app (see the library's documentation).

fn main() {
    baton_app::start_tablet();
}
