//! What a front end trusted on first sight, in the audit log: the MCP gateway pins each
//! tool's first definition as an approved request in the store, and a pin that is gone
//! (a row deleted by someone with the database's credentials) made the next definition,
//! a changed one too, a first sight again (red team round 27, tamper M1). The log is
//! append-only and verified (`aecl audit verify`, checkpoints): each first sight is also an
//! `approval` record there (`input.first_sight` names the pin, `input.sha256` what was
//! trusted), so a missing pin whose first sight is logged is known for one, and only the
//! definition then trusted is trusted again.

use std::collections::HashMap;

use aecl_audit::RecordKind;
use serde_json::{Value, json};

use crate::engine::Engine;
use crate::error::{EngineError, StoreError};
use crate::store::Store;

/// The key of a first sight's record in `input`.
const KEY: &str = "first_sight";

/// Records read at once while looking for first sights.
const PAGE: usize = 4096;

impl<S: Store> Engine<S> {
    /// Appends the record that `pin` (an approval request's id) was first seen and trusted
    /// as `sha256`, by `by`, in `run` of `agent`.
    pub async fn log_first_sight(
        &self,
        agent: &str,
        run: &str,
        pin: &str,
        sha256: &str,
        by: &str,
    ) -> Result<(), EngineError> {
        let mut record = self.record(RecordKind::Approval, agent, run);
        record.approval_id = Some(pin.to_owned());
        record.input = json!({ KEY: pin, "sha256": sha256, "status": "approved", "by": by });
        self.store().append_audit(record).await?;
        Ok(())
    }

    /// Every first sight the log holds of a pin whose id starts with `prefix`: the hashes
    /// trusted for each, oldest first. It reads the whole log (once per process is what the
    /// gateway asks: a missing pin is rare after its first listing).
    pub async fn logged_first_sights(
        &self,
        prefix: &str,
    ) -> Result<HashMap<String, Vec<String>>, EngineError> {
        let needle = format!("\"{KEY}\"");
        let mut found: HashMap<String, Vec<String>> = HashMap::new();
        let mut from = 0;
        loop {
            let page = self.store().audit_records(from, PAGE).await?;
            let Some((last, _, _)) = page.last() else { break };
            from = last + 1;
            for (seq, bytes, _) in &page {
                // Most records are not first sights: only those naming the key are parsed.
                if !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    continue;
                }
                let record: Value = serde_json::from_slice(bytes).map_err(|e| {
                    StoreError::Corrupt(format!("audit record {seq} does not parse: {e}"))
                })?;
                let input = &record["input"];
                let (Some(pin), Some(hash)) = (input[KEY].as_str(), input["sha256"].as_str())
                else {
                    continue;
                };
                if record["kind"] == RecordKind::Approval.as_str() && pin.starts_with(prefix) {
                    found.entry(pin.to_owned()).or_default().push(hash.to_owned());
                }
            }
            if page.len() < PAGE {
                break;
            }
        }
        Ok(found)
    }
}
