//! The built PWA (Trunk's `dist/`) and its caching rules.
//!
//! Trunk names every asset it builds with a content hash, so those files never change under their
//! name and are cached for a year as immutable. `index.html`, the service worker and the manifest
//! keep their names across versions and must be revalidated on every load (`no-cache`), or a
//! tablet would never see a new version. API responses are never stored.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::Request;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::services::{ServeDir, ServeFile};

use super::security_headers;

/// Where Trunk puts the manager dashboard's own build, under `dist/` and at this URL path.
pub const DASHBOARD_DIR: &str = "dashboard";

pub struct StaticFiles {
    dist: PathBuf,
    /// `None` when the PWA has not been built: the server still runs its API.
    index_html: Option<String>,
    /// The dashboard's `index.html` (`dist/dashboard/`), built separately so that tablets never
    /// download the dashboard's code.
    dashboard_html: Option<String>,
}

impl StaticFiles {
    /// Reads both `index.html` files once at start-up, to hash their inline loader scripts for
    /// the CSP.
    pub fn load(dist: &Path) -> StaticFiles {
        let read = |path: PathBuf| std::fs::read_to_string(path).ok();
        StaticFiles {
            dist: dist.to_owned(),
            index_html: read(dist.join("index.html")),
            dashboard_html: read(dist.join(DASHBOARD_DIR).join("index.html")),
        }
    }

    pub fn is_built(&self) -> bool {
        self.index_html.is_some()
    }

    pub fn dist(&self) -> &Path {
        &self.dist
    }

    pub fn content_security_policy(&self) -> String {
        let scripts: Vec<String> = [&self.index_html, &self.dashboard_html]
            .into_iter()
            .flatten()
            .flat_map(|html| security_headers::inline_scripts(html))
            .collect();
        security_headers::content_security_policy(&scripts)
    }
}

/// Adds the PWA to `router` as its fallback: a known file is served as is, any other path gets
/// `index.html` with status 200 so that client-side routes survive a reload. A file with a
/// brotli twin (`FILE.br`, written at build time by `cargo xtask`) is sent as that twin to a
/// browser that accepts `br`; any other response is gzipped on the fly by the compression layer. Paths under
/// `/dashboard` get the dashboard's own build the same way.
pub fn add_fallback<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    static_files: &StaticFiles,
) -> Router<S> {
    if !static_files.is_built() {
        return router.fallback(not_built);
    }
    let router = if static_files.dashboard_html.is_some() {
        let dashboard = static_files.dist.join(DASHBOARD_DIR);
        let index = dashboard.join("index.html");
        router.nest_service(
            &format!("/{DASHBOARD_DIR}"),
            ServeDir::new(&dashboard)
                .precompressed_br()
                .fallback(ServeFile::new(index)),
        )
    } else {
        router
    };
    let index = static_files.dist.join("index.html");
    router.fallback_service(
        ServeDir::new(&static_files.dist)
            .precompressed_br()
            .fallback(ServeFile::new(index)),
    )
}

async fn not_built() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "The Baton web app has not been built. Run `cargo xtask start`, or `trunk build --release` \
         and start the server with --dist pointing at the result.",
    )
        .into_response()
}

/// Sets `Cache-Control` from the request path, after the handler ran.
pub async fn cache_control(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let policy = if path.starts_with("/api/")
        || path.starts_with("/oauth/")
        || path == "/healthz"
        || path == "/readyz"
    {
        "no-store"
    } else if response.status().is_success() && is_content_hashed(&path) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(policy));
    response
}

/// Whether the file name carries Trunk's content hash: `name-<hex>.ext` or `name-<hex>_bg.wasm`,
/// with at least 12 hex digits so that `icon-192.png` does not count.
pub fn is_content_hashed(path: &str) -> bool {
    let file_name = path.rsplit('/').next().unwrap_or_default();
    let Some((stem, _extension)) = file_name.rsplit_once('.') else {
        return false;
    };
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    match stem.rsplit_once('-') {
        Some((_, hash)) => hash.len() >= 12 && hash.chars().all(|c| c.is_ascii_hexdigit()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_content_hashed;

    #[test]
    fn only_trunk_hashed_assets_are_immutable() {
        assert!(is_content_hashed("/baton-app-5f2e0c9b1a7d3e4f_bg.wasm"));
        assert!(is_content_hashed("/baton-app-5f2e0c9b1a7d3e4f.js"));
        assert!(is_content_hashed("/main-0123456789abcdef.css"));
        assert!(!is_content_hashed("/index.html"));
        assert!(!is_content_hashed("/sw.js"));
        assert!(!is_content_hashed("/icons/icon-192.png"));
        assert!(!is_content_hashed("/manifest.webmanifest"));
        assert!(!is_content_hashed("/"));
    }
}
