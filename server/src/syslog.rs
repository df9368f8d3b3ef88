//! Forwarding every ledger entry to a syslog collector (RFC 5424), for security teams whose SIEM
//! takes syslog rather than the HTTP feed.
//!
//! One message per entry, facility "log audit" (13), severity informational: PRI 110. The
//! structured data names the site, the leaf index and the leaf hash; the message is the entry's
//! canonical JSON. Over TCP, messages are framed by octet counting (RFC 6587). The cursor per
//! site is stored, so a restart resumes where it stopped (at-least-once). Run the forwarder on
//! one server process only: two would each send every entry.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::storage::{LedgerRow, Storage};

/// An IANA private enterprise number reserved for documentation (RFC 5612), for the SD-ID.
const ENTERPRISE_NUMBER: u32 = 32473;
const PRI_AUDIT_INFO: u32 = 13 * 8 + 6;
const BATCH: i64 = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyslogTarget {
    Udp(String),
    Tcp(String),
}

impl std::str::FromStr for SyslogTarget {
    type Err = String;

    fn from_str(text: &str) -> Result<SyslogTarget, String> {
        match text.split_once("://") {
            Some(("udp", address)) if !address.is_empty() => {
                Ok(SyslogTarget::Udp(address.to_owned()))
            }
            Some(("tcp", address)) if !address.is_empty() => {
                Ok(SyslogTarget::Tcp(address.to_owned()))
            }
            _ => Err(format!("{text:?}: use udp://HOST:PORT or tcp://HOST:PORT")),
        }
    }
}

/// RFC 3339 UTC with milliseconds, from milliseconds since the epoch.
pub fn rfc3339(ms: i64) -> String {
    let seconds = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// One RFC 5424 message for a ledger entry.
pub fn message(site_id: &str, row: &LedgerRow, hostname: &str) -> String {
    // SD-PARAM values escape `"`, `\` and `]`; ids and hex need none, but the site id is checked.
    let site: String = site_id
        .chars()
        .filter(|c| !matches!(c, '"' | '\\' | ']'))
        .collect();
    format!(
        "<{PRI_AUDIT_INFO}>1 {} {hostname} baton {} ledger [baton@{ENTERPRISE_NUMBER} site=\"{site}\" leaf=\"{}\" hash=\"{}\"] {}",
        rfc3339(row.appended_at_ms),
        std::process::id(),
        row.leaf_index,
        row.leaf_hash,
        row.entry_json
    )
}

/// Sends every site's new ledger entries, forever, once a second.
pub async fn run(storage: std::sync::Arc<dyn Storage>, target: SyslogTarget, hostname: String) {
    loop {
        if let Err(error) = forward_once(storage.as_ref(), &target, &hostname).await {
            tracing::warn!(%error, "syslog forwarding failed; retrying");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Sends what is pending for every site; returns how many messages went out.
pub async fn forward_once(
    storage: &dyn Storage,
    target: &SyslogTarget,
    hostname: &str,
) -> anyhow::Result<usize> {
    let mut sent = 0;
    for site_id in storage.list_site_ids().await? {
        loop {
            let cursor = storage.syslog_cursor(&site_id).await?;
            let rows = storage.ledger_entries(&site_id, cursor, BATCH).await?;
            let Some(last) = rows.last() else { break };
            let next = last.leaf_index + 1;
            let messages: Vec<String> = rows
                .iter()
                .map(|row| message(&site_id, row, hostname))
                .collect();
            send(target, &messages).await?;
            storage.set_syslog_cursor(&site_id, next).await?;
            sent += messages.len();
            if (rows.len() as i64) < BATCH {
                break;
            }
        }
    }
    Ok(sent)
}

async fn send(target: &SyslogTarget, messages: &[String]) -> anyhow::Result<()> {
    match target {
        SyslogTarget::Udp(address) => {
            let socket = tokio::net::UdpSocket::bind("0.0.0.0:0").await?;
            for message in messages {
                socket.send_to(message.as_bytes(), address).await?;
            }
        }
        SyslogTarget::Tcp(address) => {
            let mut stream = tokio::net::TcpStream::connect(address).await?;
            for message in messages {
                stream
                    .write_all(format!("{} {message}", message.len()).as_bytes())
                    .await?;
            }
            stream.flush().await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        // `date -u -d @1741593600` → 2025-03-10 08:00:00 UTC.
        assert_eq!(rfc3339(1_741_593_600_123), "2025-03-10T08:00:00.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn targets_parse_and_bad_ones_say_what_to_use() {
        assert_eq!(
            "udp://127.0.0.1:514".parse(),
            Ok(SyslogTarget::Udp("127.0.0.1:514".to_owned()))
        );
        assert_eq!(
            "tcp://siem:6514".parse(),
            Ok(SyslogTarget::Tcp("siem:6514".to_owned()))
        );
        assert!(
            "syslog.example"
                .parse::<SyslogTarget>()
                .unwrap_err()
                .contains("udp://HOST:PORT")
        );
    }
}
