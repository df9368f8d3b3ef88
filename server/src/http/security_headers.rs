//! Headers every response carries.
//!
//! The Content-Security-Policy allows no inline script except the exact loader script Trunk writes
//! into `index.html`, named by its SHA-256 hash, and `wasm-unsafe-eval`, which compiling the
//! WebAssembly module needs. A script injected into a page (a name or note containing markup) does
//! not run.
//!
//! When Baton terminates TLS itself, `Strict-Transport-Security` tells browsers to use HTTPS
//! only (behind a proxy, deploy/nginx.conf adds the same header).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Builds the policy for a page whose inline scripts are `inline_scripts`.
pub fn content_security_policy(inline_scripts: &[String]) -> String {
    let hashes: Vec<String> = inline_scripts
        .iter()
        .map(|script| {
            let digest = Sha256::digest(script.as_bytes());
            format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect();
    let mut script_src = vec!["'self'".to_owned(), "'wasm-unsafe-eval'".to_owned()];
    script_src.extend(hashes);
    format!(
        "default-src 'self'; script-src {}; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        script_src.join(" ")
    )
}

/// The bodies of `<script>` elements without a `src` attribute, exactly as the browser hashes them.
pub fn inline_scripts(html: &str) -> Vec<String> {
    let mut scripts = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let after_tag_name = &rest[start + "<script".len()..];
        let Some(tag_end) = after_tag_name.find('>') else {
            break;
        };
        let attributes = &after_tag_name[..tag_end];
        let body_and_rest = &after_tag_name[tag_end + 1..];
        let Some(body_end) = body_and_rest.find("</script>") else {
            break;
        };
        if !attributes.contains("src=") {
            scripts.push(body_and_rest[..body_end].to_owned());
        }
        rest = &body_and_rest[body_end + "</script>".len()..];
    }
    scripts
}

/// What `add` puts on every response.
pub struct SecurityHeaders {
    pub content_security_policy: String,
    /// Only when Baton itself serves HTTPS: over plain HTTP browsers ignore the header, and a
    /// proxy in front sends its own.
    pub strict_transport_security: bool,
}

pub async fn add(
    State(security_headers): State<Arc<SecurityHeaders>>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&security_headers.content_security_policy) {
        headers.insert(CONTENT_SECURITY_POLICY, value);
    }
    if security_headers.strict_transport_security {
        headers.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(crate::tls::STRICT_TRANSPORT_SECURITY),
        );
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inline_scripts_are_hashed() {
        let html = "<head><script type=\"module\" src=\"/a.js\"></script>\
                    <script type=\"module\">\nimport init from '/x.js';\n</script></head>";
        assert_eq!(
            inline_scripts(html),
            vec!["\nimport init from '/x.js';\n".to_owned()]
        );
    }

    #[test]
    fn the_policy_names_each_inline_script_by_hash_and_allows_no_unsafe_inline() {
        // SHA-256 of "alert(1)" in base64, computed independently with
        // `printf 'alert(1)' | openssl dgst -sha256 -binary | base64`.
        let policy = content_security_policy(&["alert(1)".to_owned()]);
        assert!(
            policy.contains("'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"),
            "{policy}"
        );
        assert!(policy.contains("'wasm-unsafe-eval'"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(!policy.contains("unsafe-inline"));
    }
}
