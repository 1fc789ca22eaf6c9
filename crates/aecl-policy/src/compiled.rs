//! A policy's compiled form: what a full [`load`](crate::load) worked out about a policy
//! directory's files that a later load of the same files need not work out again.
//!
//! `aecl hook` starts a process per tool call, and loading a policy from its text was most
//! of what the hook did beyond starting: each TOML file parsed twice (once to tell its kind,
//! once typed), every `.cedar` file through Cedar's parser, and each Cedar policy parsed a
//! second time to print its canonical text for the revision, then Cedar's schema built and
//! its strict validator run. A [`Compiled`] keeps each file's kind (so each TOML file is
//! parsed once, typed) and each Cedar policy's canonical text with its label and place: the
//! `.cedar` files are not read, and the policies are parsed from their canonical texts
//! together, once, without schema or validation. (Cedar's JSON form was tried and is slower
//! to load in cedar-policy 4.14: every name in it goes through Cedar's parser on its own.)
//!
//! # What a load from it trusts, and what it checks
//!
//! [`load_compiled`](crate::load_compiled) trusts the caller that the compiled form was made
//! by a full load in this build (the hook keeps it where no agent can write, keyed by the
//! SHA-256 of the files and of the executable), so it skips the checks that can only refuse.
//! It checks the rest:
//!
//! - the files are the ones the form was made from: it names the SHA-256 of their names and
//!   texts, and files with another digest are refused (a `.cedar` file's text is not read
//!   otherwise, so nothing else would notice an edited rule);
//! - the revision is computed again from what the load built (settings, manifests, actions,
//!   and each rule's canonical text, which is the text parsed into the rule evaluated), and
//!   a form naming another revision is refused. So the revision in the audit log is always the
//!   hash of the rules that decided, and a form damaged or altered without recomputing its
//!   revision costs a full load, never a different decision.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::SourceFile;

/// What a full load of some files found, kept so that a later load of the same files skips
/// the work. Serialised with serde (the hook keeps it as one JSON line); only
/// [`load`](crate::load) makes one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compiled {
    /// The revision the full load computed.
    pub(crate) revision: String,
    /// [`digest`] of the files it was made from.
    pub(crate) sources: String,
    /// Each file's kind, in the order of the files given to the load.
    pub(crate) files: Vec<FileKind>,
    /// Every Cedar policy, in the order the full load numbered them.
    pub(crate) rules: Vec<CompiledRule>,
}

impl Compiled {
    /// The revision of the policy this was compiled from.
    pub fn revision(&self) -> &str {
        &self.revision
    }
}

/// The SHA-256 of `files`' names and texts, in their order, each length-prefixed (so no
/// byte can move from one to the next), in hex.
pub(crate) fn digest(files: &[SourceFile]) -> String {
    let mut hash = Sha256::new();
    hash.update((files.len() as u64).to_le_bytes());
    for file in files {
        for part in [&file.path, &file.text] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
    }
    aecl_core::call::hex(&hash.finalize())
}

/// What a policy file is, as the full load told from its name and keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FileKind {
    /// `policy.toml`.
    Settings,
    /// An agent manifest, TOML or JSON.
    Manifest,
    /// An action catalog.
    Catalog,
    /// A `.cedar` file.
    Cedar,
    /// A test file (`[[tests]]`), beside the policy.
    Tests,
    /// A file the load does not read (another extension).
    Ignored,
}

/// One Cedar policy: its canonical text (Cedar's printing of its syntax tree, as the
/// revision hashes it), with the label and place a finding names. Its decision and reason
/// are read again from its annotations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompiledRule {
    pub label: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub text: String,
}
