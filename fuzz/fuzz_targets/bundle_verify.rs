//! Arbitrary bytes as an audit bundle for `baton verify` (`baton_server::verify::verify_bundle`):
//! an auditor runs it on a file someone handed them, so whatever the file holds it must end
//! with a report, never a panic or a hang.

#![no_main]

use baton_server::verify::verify_bundle;
use libfuzzer_sys::fuzz_target;

/// The server key of docs/PROTOCOL.md §4.2's worked bundle, in the seed corpus: the key an
/// auditor would pass with `--server-key`.
const WORKED_EXAMPLE_SERVER_KEY: &str =
    "d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737";

fuzz_target!(|data: &[u8]| {
    for expected_server_key in [None, Some(WORKED_EXAMPLE_SERVER_KEY)] {
        let report = verify_bundle(data, expected_server_key);
        // A valid report says what it checked: at least the head, and then every entry.
        if report.is_valid() {
            assert!(!report.findings.is_empty());
        }
    }
});
