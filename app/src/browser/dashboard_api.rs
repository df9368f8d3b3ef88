//! The dashboard's requests: JSON over `fetch` with the session cookie, the CSRF header on every
//! change, and the live stream of ingested events over `EventSource`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::EventSource;

use super::http::{fetch_text, parse};
use crate::dashboard::api::{Session, SignIn, paths};
use crate::sync::TransportError;

/// The header every state-changing request of a session carries (docs/PROTOCOL.md §2.5).
const CSRF_HEADER: &str = "x-csrf-token";

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, TransportError> {
    parse(&fetch_text("GET", path, &[], &[]).await?)
}

pub async fn post<T: DeserializeOwned>(
    path: &str,
    body: &impl Serialize,
    session: &Session,
) -> Result<T, TransportError> {
    let body = serde_json::to_vec(body).expect("a request body serialises");
    let headers = [(CSRF_HEADER, session.csrf_token.clone())];
    parse(&fetch_text("POST", path, &body, &headers).await?)
}

pub async fn put<T: DeserializeOwned>(
    path: &str,
    body: &impl Serialize,
    session: &Session,
) -> Result<T, TransportError> {
    let body = serde_json::to_vec(body).expect("a request body serialises");
    let headers = [(CSRF_HEADER, session.csrf_token.clone())];
    parse(&fetch_text("PUT", path, &body, &headers).await?)
}

/// Posts a CSV file's text (the admin imports); the server checks every row before it writes any.
pub async fn post_csv<T: DeserializeOwned>(
    path: &str,
    csv: &str,
    session: &Session,
) -> Result<T, TransportError> {
    let headers = [
        (CSRF_HEADER, session.csrf_token.clone()),
        ("content-type", "text/csv; charset=utf-8".to_owned()),
    ];
    parse(&fetch_text("POST", path, csv.as_bytes(), &headers).await?)
}

/// The text of the file chosen in a file input, if any.
pub async fn chosen_file_text(input: &web_sys::HtmlInputElement) -> Option<Result<String, String>> {
    let file = input.files()?.get(0)?;
    let text = wasm_bindgen_futures::JsFuture::from(file.text()).await;
    Some(
        text.map(|value| value.as_string().unwrap_or_default())
            .map_err(|error| format!("{error:?}")),
    )
}

/// An SVG document as a `data:` URL an `<img>` can show (the CSP allows `data:` images only).
pub fn svg_data_url(svg: &str) -> String {
    format!(
        "data:image/svg+xml;charset=utf-8,{}",
        String::from(js_sys::encode_uri_component(svg))
    )
}

/// The live session, or `None` when nobody is signed in on this browser.
pub async fn current_session() -> Result<Option<Session>, TransportError> {
    match get::<Session>(paths::SESSION).await {
        Ok(session) => Ok(Some(session)),
        Err(TransportError::Refused { status: 401, .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

pub async fn sign_in(username: &str, password: &str) -> Result<Session, TransportError> {
    let body = serde_json::to_vec(&SignIn { username, password }).expect("sign-in serialises");
    parse(&fetch_text("POST", paths::SIGN_IN, &body, &[]).await?)
}

pub async fn sign_out(session: &Session) -> Result<(), TransportError> {
    let headers = [(CSRF_HEADER, session.csrf_token.clone())];
    fetch_text("POST", paths::SIGN_OUT, b"{}", &headers).await?;
    Ok(())
}

/// The board's Server-Sent Events; closed when dropped.
pub struct LiveStream {
    source: EventSource,
    _on_change: Closure<dyn FnMut(web_sys::Event)>,
    _on_open: Closure<dyn FnMut(web_sys::Event)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl LiveStream {
    /// Opens the stream: `on_change` runs for every ingested event, `on_state` with whether the
    /// stream is connected (the browser reconnects by itself after an error).
    pub fn open(
        on_change: impl Fn() + 'static,
        on_state: impl Fn(bool) + Clone + 'static,
    ) -> Result<LiveStream, TransportError> {
        let source = EventSource::new(paths::STREAM).map_err(|error| {
            TransportError::Unreachable(format!("the live stream could not open: {error:?}"))
        })?;
        let on_change = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| on_change());
        let opened = on_state.clone();
        let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| opened(true));
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| on_state(false));
        for kind in ["custody", "revocation", "review"] {
            let _ =
                source.add_event_listener_with_callback(kind, on_change.as_ref().unchecked_ref());
        }
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(LiveStream {
            source,
            _on_change: on_change,
            _on_open: on_open,
            _on_error: on_error,
        })
    }
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        self.source.close();
    }
}
