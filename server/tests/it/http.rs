//! The router, driven without a socket.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use baton_server::http::{AppState, app, static_files::StaticFiles};
use baton_server::server_key::ServerKey;
use tower::ServiceExt;

use crate::support;

const INDEX_HTML: &str = "<!DOCTYPE html><html><head>\
    <link rel=\"manifest\" href=\"/manifest.webmanifest\">\
    <script type=\"module\">import init from '/baton-app-0123456789abcdef.js';</script>\
    </head><body></body></html>";

const BROTLI_TWIN: &[u8] = b"brotli twin of the hashed asset";

struct Fixture {
    router: axum::Router,
    _dist: tempfile::TempDir,
    _storage: support::TestStorage,
}

async fn fixture_with_dist(write_files: bool) -> Fixture {
    let dist = tempfile::tempdir().unwrap();
    if write_files {
        std::fs::write(dist.path().join("index.html"), INDEX_HTML).unwrap();
        std::fs::write(
            dist.path().join("baton-app-0123456789abcdef.js"),
            "export default 1;",
        )
        .unwrap();
        // What `cargo xtask` writes beside each hashed asset; the bytes only have to be told apart.
        std::fs::write(
            dist.path().join("baton-app-0123456789abcdef.js.br"),
            BROTLI_TWIN,
        )
        .unwrap();
        std::fs::write(
            dist.path().join("sw.js"),
            "self.addEventListener('fetch', () => {});",
        )
        .unwrap();
    }
    let storage = support::sqlite().await;
    let state = AppState::new(
        storage.storage.clone(),
        StaticFiles::load(dist.path()),
        ServerKey::from_seed([9; 32]).unwrap(),
        false,
    );
    Fixture {
        router: app(state),
        _dist: dist,
        _storage: storage,
    }
}

async fn get(router: &axum::Router, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = router
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

fn cache_control(headers: &axum::http::HeaderMap) -> &str {
    headers
        .get(header::CACHE_CONTROL)
        .unwrap()
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn health_and_readiness_answer_and_are_never_cached() {
    let fixture = fixture_with_dist(true).await;
    let (status, headers, body) = get(&fixture.router, "/healthz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    assert_eq!(cache_control(&headers), "no-store");
    let (status, _, body) = get(&fixture.router, "/readyz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ready"));
}

#[tokio::test]
async fn meta_names_the_event_format_and_backend() {
    let fixture = fixture_with_dist(true).await;
    let (status, _, body) = get(&fixture.router, "/api/v1/meta").await;
    assert_eq!(status, StatusCode::OK);
    let meta: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(meta["event_format_version"], 1);
    assert_eq!(meta["storage_backend"], "sqlite");
    assert_eq!(
        meta["server_public_key"],
        ServerKey::from_seed([9; 32]).unwrap().public_key().to_hex()
    );
}

/// An app that has not yet picked up a new PWA keeps working with an upgraded server; one
/// that speaks a version the server does not is told so with a code it acts on.
#[tokio::test]
async fn the_api_version_is_negotiated_and_an_unknown_one_refused_with_a_code() {
    let fixture = fixture_with_dist(true).await;
    let (status, headers, body) = get(&fixture.router, "/api/v1/meta").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["baton-api-version"], "1", "no header is version 1");
    let meta: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(meta["api_versions"]["min"], 1);
    assert_eq!(
        meta["api_versions"]["max"],
        baton_core::request::API_VERSION
    );

    let ask = |version: &str| {
        let router = fixture.router.clone();
        let request = Request::get("/api/v1/meta")
            .header("baton-api-version", version)
            .body(Body::empty())
            .unwrap();
        async move { router.oneshot(request).await.unwrap() }
    };
    let served = ask(&baton_core::request::API_VERSION.to_string()).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(
        served.headers()["baton-api-version"],
        baton_core::request::API_VERSION.to_string().as_str()
    );
    for refused in ["999", "0", "v1"] {
        let response = ask(refused).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{refused}");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let error: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            error["error"]["code"], "unsupported_api_version",
            "{refused}"
        );
    }
    // Pages and assets are not part of the API: never refused for a version.
    let page = fixture
        .router
        .clone()
        .oneshot(
            Request::get("/")
                .header("baton-api-version", "999")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_api_path_is_a_json_404_not_the_app() {
    let fixture = fixture_with_dist(true).await;
    let (status, _, body) = get(&fixture.router, "/api/v1/no-such-thing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], "not_found");
}

#[tokio::test]
async fn hashed_assets_are_immutable_and_the_shell_is_revalidated() {
    let fixture = fixture_with_dist(true).await;
    let (status, headers, _) = get(&fixture.router, "/baton-app-0123456789abcdef.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        cache_control(&headers),
        "public, max-age=31536000, immutable"
    );

    for path in ["/", "/index.html", "/sw.js"] {
        let (status, headers, _) = get(&fixture.router, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(cache_control(&headers), "no-cache", "{path}");
    }
}

async fn get_accepting(
    router: &axum::Router,
    path: &str,
    accept_encoding: &str,
) -> (axum::http::HeaderMap, Vec<u8>) {
    let response = router
        .clone()
        .oneshot(
            Request::get(path)
                .header(header::ACCEPT_ENCODING, accept_encoding)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (headers, bytes.to_vec())
}

#[tokio::test]
async fn a_browser_that_accepts_brotli_gets_the_build_time_twin_of_a_hashed_asset() {
    let fixture = fixture_with_dist(true).await;
    let (headers, body) = get_accepting(
        &fixture.router,
        "/baton-app-0123456789abcdef.js",
        "gzip, deflate, br, zstd",
    )
    .await;
    assert_eq!(headers.get(header::CONTENT_ENCODING).unwrap(), "br");
    assert_eq!(body, BROTLI_TWIN);
    assert_eq!(
        cache_control(&headers),
        "public, max-age=31536000, immutable"
    );

    // Without `br`, the file itself (the compression layer gzips only bodies over 32 bytes).
    let (headers, body) =
        get_accepting(&fixture.router, "/baton-app-0123456789abcdef.js", "gzip").await;
    assert!(!headers.contains_key(header::CONTENT_ENCODING));
    assert_eq!(body, b"export default 1;");

    // The service worker has no twin: it keeps its name across versions.
    let (headers, _) = get_accepting(&fixture.router, "/sw.js", "br").await;
    assert_ne!(
        headers
            .get(header::CONTENT_ENCODING)
            .map(|value| value.to_str().unwrap()),
        Some("br")
    );
}

#[tokio::test]
async fn a_client_side_route_reloads_as_the_app_with_status_200() {
    let fixture = fixture_with_dist(true).await;
    let (status, headers, body) = get(&fixture.router, "/dashboard/exceptions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, INDEX_HTML);
    assert_eq!(cache_control(&headers), "no-cache");
}

#[tokio::test]
async fn every_response_carries_a_policy_that_allows_only_the_known_inline_script() {
    let fixture = fixture_with_dist(true).await;
    let (_, headers, _) = get(&fixture.router, "/").await;
    let policy = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap()
        .to_str()
        .unwrap();
    // The hash of the inline loader script in INDEX_HTML, computed independently:
    // printf "import init from '/baton-app-0123456789abcdef.js';" | openssl dgst -sha256 -binary | base64
    assert!(
        policy.contains("'sha256-o4DtlFyTNozUHSCEs+Mx29Y3xmycEvMSxCcVq5Hwtlc='"),
        "{policy}"
    );
    assert!(!policy.contains("unsafe-inline"));
    assert_eq!(
        headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(),
        "nosniff"
    );
    assert_eq!(headers.get(header::REFERRER_POLICY).unwrap(), "no-referrer");

    let (_, headers, _) = get(&fixture.router, "/healthz").await;
    assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
}

#[tokio::test]
async fn without_a_built_app_the_api_still_runs_and_the_page_says_how_to_build() {
    let fixture = fixture_with_dist(false).await;
    let (status, _, _) = get(&fixture.router, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = get(&fixture.router, "/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("cargo xtask start"), "{body}");
}

#[tokio::test]
async fn metrics_are_off_by_default_and_need_the_token_when_on() {
    let fixture = fixture_with_dist(true).await;
    let (status, _, _) = get(&fixture.router, "/metrics").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let storage = support::sqlite().await;
    let mut state = AppState::new(
        storage.storage.clone(),
        StaticFiles::load(std::path::Path::new("/nonexistent")),
        ServerKey::from_seed([9; 32]).unwrap(),
        false,
    );
    state.metrics_token = Some("scrape-me".into());
    state.metrics.count_receipt("accepted", "");
    let router = app(state);
    let (status, _, _) = get(&router, "/metrics").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let response = router
        .clone()
        .oneshot(
            Request::get("/metrics")
                .header(header::AUTHORIZATION, "Bearer scrape-me")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(
        text.contains("baton_sync_receipts_total{status=\"accepted\",reason=\"\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn the_app_is_sent_gzip_compressed_to_clients_that_accept_it() {
    let fixture = fixture_with_dist(true).await;
    let response = fixture
        .router
        .clone()
        .oneshot(
            Request::get("/")
                .header(header::ACCEPT_ENCODING, "gzip")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get(header::CONTENT_ENCODING).unwrap(),
        "gzip"
    );
}

#[tokio::test]
async fn the_dashboard_is_served_from_its_own_build_under_the_same_csp() {
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(dist.path().join("index.html"), INDEX_HTML).unwrap();
    let dashboard_dir = dist.path().join("dashboard");
    std::fs::create_dir(&dashboard_dir).unwrap();
    let dashboard_html = "<!DOCTYPE html><html><head><script type=\"module\">import init from '/dashboard/baton-dashboard-0123456789abcdef.js'; await init();</script></head><body></body></html>";
    std::fs::write(dashboard_dir.join("index.html"), dashboard_html).unwrap();
    std::fs::write(
        dashboard_dir.join("baton-dashboard-0123456789abcdef.js"),
        "export default 1;",
    )
    .unwrap();
    let storage = support::sqlite().await;
    let router = app(AppState::new(
        storage.storage.clone(),
        StaticFiles::load(dist.path()),
        ServerKey::from_seed([9; 32]).unwrap(),
        false,
    ));

    // Every dashboard route gets the dashboard's shell; the tablet's routes keep theirs.
    for path in ["/dashboard", "/dashboard/", "/dashboard/people/S-0001"] {
        let (status, headers, body) = get(&router, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, dashboard_html, "{path}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    }
    let (_, _, tablet) = get(&router, "/board").await;
    assert_eq!(tablet, INDEX_HTML);
    let (status, headers, _) = get(&router, "/dashboard/baton-dashboard-0123456789abcdef.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );

    // One policy for both pages, naming both inline loaders.
    let (_, headers, _) = get(&router, "/dashboard").await;
    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert_eq!(policy.matches("'sha256-").count(), 2, "{policy}");
    assert!(!policy.contains("unsafe-inline"));
}
