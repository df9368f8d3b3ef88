//! A manager's session (for enrollment codes and the registry) and simulated tablets that sign
//! with `baton-core` and push over signed requests (docs/PROTOCOL.md §2.1–2.3).

use std::path::Path;

use anyhow::{Context, bail};
use baton_core::body::{AuthMethod, Body, Checklist, DeviceCondition, PersonAuth};
use baton_core::event::{ChainHead, SignedEvent, UnsignedEvent};
use baton_core::hlc::Hlc;
use baton_core::ids::{DeviceId, SignerKey, StaffId, WardId};
use baton_core::request::{
    HEADER_KEY, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, RequestToSign,
};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as u64
}

/// Pushes the server deferred (`503 sync_busy`) and this process sent again, over the run.
pub static DEFERRED_PUSHES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// Deferrals of one push in a row before the load generator gives up on it.
const MAX_DEFERRALS: usize = 60;
/// The demo ward every simulated tablet is enrolled on.
pub const WARD_ID: &str = "W-4E";

/// A signed-in manager of the demo site. Clones share the session.
#[derive(Clone)]
pub struct Manager {
    client: reqwest::Client,
    csrf_token: String,
    base_url: String,
}

impl Manager {
    /// Signs in with the manager line of `demo-credentials.txt`.
    pub async fn sign_in(base_url: &str, credentials: &Path) -> anyhow::Result<Manager> {
        let text = std::fs::read_to_string(credentials).with_context(|| {
            format!(
                "reading {} (start the server with --demo, or pass --credentials)",
                credentials.display()
            )
        })?;
        let (username, password) = text
            .lines()
            .find_map(|line| {
                let mut words = line.split_whitespace();
                while let Some(word) = words.next() {
                    if word == "username" {
                        let username = words.next()?;
                        (words.next()? == "password").then_some(())?;
                        return Some((username.to_owned(), words.next()?.to_owned()));
                    }
                }
                None
            })
            .context("no `username … password …` line in the credentials file")?;
        let client = reqwest::Client::builder().cookie_store(true).build()?;
        let response = client
            .post(format!("{base_url}/api/v1/auth/sign-in"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .with_context(|| format!("cannot reach {base_url}"))?;
        if !response.status().is_success() {
            bail!("sign-in refused: {}", response.text().await?);
        }
        let session: Value = response.json().await?;
        Ok(Manager {
            client,
            csrf_token: session["csrf_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            base_url: base_url.to_owned(),
        })
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .client
            .get(format!("{}{path}", self.base_url))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("GET {path}: {}", response.text().await?);
        }
        Ok(response.json().await?)
    }

    /// A GET as the dashboard in a browser makes it (gzip accepted, the whole body read, not
    /// decoded); returns the bytes on the wire.
    pub async fn get_as_browser(&self, path: &str) -> anyhow::Result<usize> {
        let response = self
            .client
            .get(format!("{}{path}", self.base_url))
            .header("accept-encoding", "gzip")
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("GET {path}: {}", response.text().await?);
        }
        Ok(response.bytes().await?.len())
    }

    /// Posts a CSV import (`/api/v1/admin/…csv`) with the session's CSRF token.
    pub async fn post_csv(&self, path: &str, csv: String) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.base_url))
            .header("x-csrf-token", &self.csrf_token)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("POST {path}: {}", response.text().await?);
        }
        Ok(response.json().await?)
    }

    /// Every page of the board, read 1,000 devices at a time (the most one answer holds).
    pub async fn board_pages(&self) -> anyhow::Result<Vec<Value>> {
        let mut pages = Vec::new();
        let mut offset = 0;
        loop {
            let page = self
                .get(&format!(
                    "/api/v1/dashboard/devices?limit=1000&offset={offset}"
                ))
                .await?;
            let rows = page["devices"].as_array().map_or(0, Vec::len);
            let total = page["total"].as_u64().unwrap_or(0) as usize;
            pages.push(page);
            offset += rows;
            if rows == 0 || offset >= total {
                return Ok(pages);
            }
        }
    }

    /// The site's active device ids and staff numbers.
    pub async fn registry(&self) -> anyhow::Result<(Vec<String>, Vec<String>)> {
        let ids = |value: &Value, list: &str, id: &str| -> Vec<String> {
            value[list]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter(|item| item["active"].as_bool().unwrap_or(true))
                        .filter_map(|item| item[id].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut devices = Vec::new();
        for page in self.board_pages().await? {
            devices.extend(ids(&page, "devices", "device_id"));
        }
        let staff = ids(
            &self.get("/api/v1/dashboard/staff").await?,
            "staff",
            "staff_id",
        );
        if devices.is_empty() || staff.is_empty() {
            bail!("the site has no devices or no staff to hand over");
        }
        Ok((devices, staff))
    }

    async fn enrollment_code(&self, ward_id: &str) -> anyhow::Result<String> {
        let response = self
            .client
            .post(format!("{}/api/v1/enrollment-codes", self.base_url))
            .header("x-csrf-token", &self.csrf_token)
            .json(&json!({ "ward_id": ward_id }))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("enrollment code refused: {}", response.text().await?);
        }
        let body: Value = response.json().await?;
        Ok(body["code"].as_str().unwrap_or_default().to_owned())
    }
}

/// A tablet's signing side, which needs no server: its key, its ward, and its chain so far.
/// The PouchDB peer (`pouchdb.rs`) builds its documents from the same streams.
pub struct HandoffChain {
    signing_key: SigningKey,
    signer: SignerKey,
    ward_id: String,
    /// The last event and the clock.
    head: Option<ChainHead>,
    clock: Hlc,
}

impl HandoffChain {
    /// A fresh random key on `ward_id`, with no event yet.
    pub fn new(ward_id: &str) -> HandoffChain {
        let signing_key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        HandoffChain {
            signer: SignerKey::from_signing_key(&signing_key),
            signing_key,
            ward_id: ward_id.to_owned(),
            head: None,
            clock: Hlc::ZERO,
        }
    }

    /// Signs the chain's next event, advancing it and its clock.
    pub fn sign_next(&mut self, wall_ms: u64, body: Body) -> anyhow::Result<SignedEvent> {
        let event = UnsignedEvent::next(self.signer, self.head, self.clock, wall_ms, body)?
            .sign(&self.signing_key)?;
        self.head = Some(event.chain_head());
        self.clock = event.hlc();
        Ok(event)
    }

    /// A check-out (`check_in == false`) or a check-in of `device` by `staff` on this chain's
    /// ward, with the return checklist all done.
    pub fn handoff(&self, device: &str, staff: &str, check_in: bool) -> anyhow::Result<Body> {
        let device = DeviceId::new(device)?;
        let person = PersonAuth {
            staff: StaffId::new(staff)?,
            method: AuthMethod::BadgePin,
        };
        let ward = WardId::new(&self.ward_id)?;
        Ok(if check_in {
            Body::CheckIn {
                device,
                returned_by: person,
                ward,
                checklist: Checklist {
                    apps_signed_out: true,
                    local_data_wiped: true,
                    condition: DeviceCondition::Ok,
                },
                note: None,
            }
        } else {
            Body::CheckOut {
                device,
                custodian: person,
                ward,
                shift: None,
                expected_return_ms: None,
                purpose: None,
                issued_by: None,
            }
        })
    }

    /// Signs `n_events` handoffs: tablet `tablet_index` walks the devices, checking one out to
    /// a person and back in, as a ward does over shifts. Events are stamped in the recent past,
    /// one second apart, so that no clock rule refuses them.
    pub fn sign_handoffs(
        &mut self,
        tablet_index: usize,
        n_events: usize,
        devices: &[String],
        staff: &[String],
    ) -> anyhow::Result<Vec<SignedEvent>> {
        if devices.is_empty() || staff.is_empty() {
            bail!("no devices or no staff to hand over");
        }
        let start_ms = now_ms().saturating_sub(n_events as u64 * 1_000 + 60_000);
        let mut events = Vec::with_capacity(n_events);
        for event_index in 0..n_events {
            let round = event_index / 2;
            let device = &devices[(tablet_index + round) % devices.len()];
            let person = &staff[(tablet_index * 7 + round) % staff.len()];
            let body = self.handoff(device, person, event_index % 2 == 1)?;
            let wall_ms = start_ms + event_index as u64 * 1_000;
            events.push(self.sign_next(wall_ms, body)?);
        }
        Ok(events)
    }
}

/// An enrolled simulated tablet.
pub struct SimTablet {
    chain: HandoffChain,
    client: reqwest::Client,
    base_url: String,
}

/// A tablet's pre-signed outbox, as the push bodies it will send.
pub struct Stream {
    pub tablet: SimTablet,
    pub batches: Vec<Vec<u8>>,
}

impl SimTablet {
    pub async fn enroll(manager: &Manager, index: usize) -> anyhow::Result<SimTablet> {
        let chain = HandoffChain::new(WARD_ID);
        let code = manager.enrollment_code(&chain.ward_id).await?;
        // A request that hangs this long counts as a failure, not as a slow answer.
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        let response = client
            .post(format!("{}/api/v1/enroll", manager.base_url))
            .json(&json!({
                "code": code,
                "public_key": chain.signer.to_hex(),
                "label": format!("load tablet {index}"),
            }))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("enrollment refused: {}", response.text().await?);
        }
        Ok(SimTablet {
            chain,
            client,
            base_url: manager.base_url.clone(),
        })
    }

    /// The ward the tablet was enrolled on.
    pub fn ward_id(&self) -> &str {
        &self.chain.ward_id
    }

    /// Signs this tablet's next event, advancing its chain and clock.
    pub fn sign_next(&mut self, wall_ms: u64, body: Body) -> anyhow::Result<SignedEvent> {
        self.chain.sign_next(wall_ms, body)
    }

    /// A check-out or a check-in on this tablet's ward (`HandoffChain::handoff`).
    pub fn handoff(&self, device: &str, staff: &str, check_in: bool) -> anyhow::Result<Body> {
        self.chain.handoff(device, staff, check_in)
    }

    /// The push body of `events`, as the PWA sends it.
    pub fn push_body(events: &[SignedEvent]) -> anyhow::Result<Vec<u8>> {
        let wire: Vec<Value> = events
            .iter()
            .map(|event| serde_json::from_slice(&event.to_json_bytes()))
            .collect::<Result<_, _>>()?;
        Ok(serde_json::to_vec(&json!({ "events": wire }))?)
    }

    /// Signs `n_events` handoffs (`HandoffChain::sign_handoffs`) and cuts them into push
    /// bodies of `batch` events.
    pub fn sign_stream(
        mut self,
        tablet_index: usize,
        n_events: usize,
        devices: &[String],
        staff: &[String],
        batch: usize,
    ) -> anyhow::Result<Stream> {
        let events = self
            .chain
            .sign_handoffs(tablet_index, n_events, devices, staff)?;
        let batches = events
            .chunks(batch)
            .map(SimTablet::push_body)
            .collect::<anyhow::Result<_>>()?;
        Ok(Stream {
            tablet: self,
            batches,
        })
    }

    /// Sends a request signed by this tablet with a fresh nonce (docs/PROTOCOL.md §2.1).
    async fn signed(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Vec<u8>,
    ) -> reqwest::Result<reqwest::Response> {
        let timestamp_ms = now_ms();
        let nonce = hex::encode(rand::random::<[u8; 16]>());
        let signature = RequestToSign {
            method: method.as_str(),
            path_and_query,
            body: &body,
            timestamp_ms,
            nonce: &nonce,
        }
        .sign(&self.chain.signing_key);
        let mut request = self
            .client
            .request(method, format!("{}{path_and_query}", self.base_url))
            .header(HEADER_KEY, self.chain.signer.to_hex())
            .header(HEADER_TIMESTAMP, timestamp_ms.to_string())
            .header(HEADER_NONCE, nonce)
            .header(HEADER_SIGNATURE, hex::encode(signature));
        if !body.is_empty() {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        request.send().await
    }

    /// Pushes one batch; returns how many events the server accepted.
    pub async fn push(&self, body: Vec<u8>) -> anyhow::Result<usize> {
        let receipts = self.push_receipts(body).await?;
        Ok(receipts
            .iter()
            .filter(|receipt| receipt["status"] == "accepted")
            .count())
    }

    /// Pushes one batch; returns its receipts, one per event in order. A push the server
    /// defers (`503 sync_busy`, its site's queue full) is sent again after the `Retry-After` it
    /// names, as a tablet's sync does; each deferral is counted in `DEFERRED_PUSHES`.
    pub async fn push_receipts(&self, body: Vec<u8>) -> anyhow::Result<Vec<Value>> {
        for _ in 0..MAX_DEFERRALS {
            let response = self
                .signed(reqwest::Method::POST, "/api/v1/sync/push", body.clone())
                .await?;
            let status = response.status();
            if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                if let (Some(seconds), "sync_busy") =
                    (retry_after, answer["error"]["code"].as_str().unwrap_or(""))
                {
                    DEFERRED_PUSHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
                    continue;
                }
                bail!("push refused ({status}): {answer}");
            }
            if !status.is_success() {
                bail!("push refused ({status}): {}", response.text().await?);
            }
            let answer: Value = response.json().await?;
            return Ok(answer["receipts"].as_array().cloned().unwrap_or_default());
        }
        bail!("the server deferred this push {MAX_DEFERRALS} times in a row (503 sync_busy)")
    }

    /// Pulls one page of the site's log after `after` (docs/PROTOCOL.md §2.3); returns the
    /// number of events in it, the cursor for the next page, and whether there are more.
    pub async fn pull(&self, after: i64, limit: u32) -> anyhow::Result<(usize, i64, bool)> {
        let path = format!("/api/v1/sync/pull?after={after}&limit={limit}");
        let response = self.signed(reqwest::Method::GET, &path, Vec::new()).await?;
        let status = response.status();
        if !status.is_success() {
            bail!("pull refused ({status}): {}", response.text().await?);
        }
        let page: Value = response.json().await?;
        let n_events = page["events"].as_array().map_or(0, Vec::len);
        let next_after = page["next_after"]
            .as_i64()
            .context("the pull answer has no next_after")?;
        Ok((
            n_events,
            next_after,
            page["more"].as_bool().unwrap_or(false),
        ))
    }
}
