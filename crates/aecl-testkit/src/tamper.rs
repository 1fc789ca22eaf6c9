//! The tamper matrix: every way an attacker with write access to the store (but not the
//! signing key) can change a log, as transformations of the stored log, each with what
//! verification must name without and with the published checkpoints.
//!
//! The cases are written against the log's shape (its checkpoint sizes), not one layout, so
//! the same cases run in `aecl-audit`'s tests on an in-memory log and in `aecl-store`'s
//! tests on real SQLite and PostgreSQL stores tampered with through SQL.
//! Only the published checkpoints are out of the attacker's reach; everything else
//! (records, stored checkpoints, the head) is theirs to rewrite.

use aecl_audit::{
    AuditError, AuditRecord, Checkpoint, CheckpointId, LogState, Problem, SignerKey, StoredRecord,
    chain_hash, sign_checkpoint,
};

/// A stored log as an attacker sees it, with what was published outside the store.
#[derive(Debug, Clone)]
pub struct Log {
    pub records: Vec<StoredRecord>,
    /// Signed checkpoint notes, by size.
    pub checkpoints: Vec<String>,
    /// The store's head (`LogState::new()` when it has none).
    pub head: LogState,
    /// tlog-witness add-checkpoint bodies, by size (not the attacker's to change).
    pub published: Vec<Vec<u8>>,
}

/// The key that signs the real log.
#[derive(Debug)]
pub struct Keys {
    pub real: SignerKey,
}

impl Keys {
    /// A key with the same name that the pinned key is not.
    pub fn impostor(&self) -> SignerKey {
        SignerKey::from_seed(self.real.name(), [0xee; 32]).unwrap()
    }

    fn not_signed(&self) -> AuditError {
        let verifier = self.real.verifier();
        AuditError::NotSignedByKey {
            name: verifier.name().to_owned(),
            key_hash: verifier.key_hash().iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// The sizes of a log's stored checkpoints, in order.
pub fn sizes(checkpoints: &[String]) -> Vec<u64> {
    checkpoints.iter().map(|note| body(note).size).collect()
}

fn body(note: &str) -> Checkpoint {
    let (text, _) = note.split_once("\n\n").unwrap();
    Checkpoint::parse_body(&format!("{text}\n")).unwrap()
}

/// What an untouched log looks like: the numbers the expectations are made of.
#[derive(Debug)]
pub struct Shape {
    pub n: u64,
    pub sizes: Vec<u64>,
    /// The record tampered with in the middle of the log.
    pub t: u64,
    /// The index of the first checkpoint covering `t`.
    pub c: usize,
}

impl Shape {
    pub fn of(log: &Log) -> Shape {
        let sizes = sizes(&log.checkpoints);
        assert!(sizes.len() >= 4, "the matrix needs at least four checkpoints");
        assert_eq!(sizes.last().copied(), Some(log.records.len() as u64));
        let n = log.records.len() as u64;
        let t = n / 2;
        let c = sizes.iter().position(|&s| s > t).unwrap();
        assert!(c + 2 < sizes.len(), "the middle record must be two batches from the last");
        Shape { n, sizes, t, c }
    }

    /// The size before checkpoint `i` (0 for the first).
    pub fn before(&self, i: usize) -> u64 {
        if i == 0 { 0 } else { self.sizes[i - 1] }
    }

    pub fn last(&self) -> usize {
        self.sizes.len() - 1
    }
}

/// What verification must answer: `None` when the change cannot be seen.
pub type Expect = fn(&Shape, &Keys) -> Option<Problem>;

#[derive(Debug)]
pub struct Case {
    pub class: &'static str,
    pub name: &'static str,
    pub tamper: fn(&mut Log, &Shape, &Keys),
    /// Without the published checkpoints.
    pub without: Expect,
    /// With them.
    pub with: Expect,
}

// ---- What an attacker can do to the stored log ----

fn json(log: &Log, i: u64) -> AuditRecord {
    AuditRecord::from_canonical(&log.records[i as usize].1).unwrap()
}

/// A record of the attacker's making, numbered `seq`.
pub fn forged(template: &[u8], seq: u64, tag: &str) -> Vec<u8> {
    let mut record = AuditRecord::from_canonical(template).unwrap();
    record.seq = seq;
    record.event_id = format!("forged-{tag}-{seq}");
    record.call_id = format!("forged-{seq}");
    record.to_canonical().unwrap()
}

impl Log {
    /// Recomputes the chain hashes from record `from` on.
    pub fn rechain(&mut self, from: usize) {
        let mut previous = if from == 0 { aecl_audit::GENESIS } else { self.records[from - 1].2 };
        for record in &mut self.records[from..] {
            record.2 = chain_hash(&previous, &record.1);
            previous = record.2;
        }
    }

    /// Numbers every record by its place, in the stored column and in its bytes, and
    /// recomputes the chain.
    pub fn renumber(&mut self) {
        for (i, record) in self.records.iter_mut().enumerate() {
            let mut decoded = AuditRecord::from_canonical(&record.1).unwrap();
            decoded.seq = i as u64;
            record.0 = i as u64;
            record.1 = decoded.to_canonical().unwrap();
        }
        self.rechain(0);
    }

    /// The head the records give.
    pub fn fix_head(&mut self) {
        self.head = state_of(&self.records);
    }

    pub fn drop_checkpoints_above(&mut self, size: u64) {
        self.checkpoints.retain(|note| body(note).size <= size);
    }

    /// Signs a checkpoint over the records as they are now, following the last stored one
    /// (as a writer would).
    pub fn checkpoint_now(&mut self, key: &SignerKey) {
        let state = state_of(&self.records);
        let previous = self.checkpoints.last().map(String::as_str);
        let checkpoint = state.checkpoint(key.name(), None).following(previous);
        self.checkpoints.push(sign_checkpoint(&checkpoint, key).unwrap());
    }

    /// Keeps the first `size` records, the checkpoints up to it and the head at it: the
    /// store exactly as it was when it had `size` records.
    pub fn older_copy(&mut self, size: u64) {
        self.records.truncate(size as usize);
        self.drop_checkpoints_above(size);
        self.fix_head();
    }

    /// Appends `count` records of another history, each batch of `batch` records closed by a
    /// checkpoint signed by `key` (the real one: a rolled-back writer carrying on).
    pub fn carry_on(&mut self, template: &[u8], count: u64, batch: u64, key: &SignerKey) {
        for i in 0..count {
            let seq = self.records.len() as u64;
            let bytes = forged(template, seq, "other");
            let previous = self.records.last().map_or(aecl_audit::GENESIS, |r| r.2);
            self.records.push((seq, bytes.clone(), chain_hash(&previous, &bytes)));
            if (i + 1) % batch == 0 || i + 1 == count {
                self.checkpoint_now(key);
            }
        }
        self.fix_head();
    }
}

pub fn state_of(records: &[StoredRecord]) -> LogState {
    let mut state = LogState::new();
    for (_, bytes, _) in records {
        state.append_canonical(bytes.clone());
    }
    state
}

fn edit(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.contains("\"event_id\":\""));
    text.replacen("\"event_id\":\"", "\"event_id\":\"X", 1).into_bytes()
}

fn resign_all(log: &mut Log, key: &SignerKey) {
    for note in &mut log.checkpoints {
        *note = sign_checkpoint(&body(note), key).unwrap();
    }
}

// ---- Expectations ----

fn undetected(_: &Shape, _: &Keys) -> Option<Problem> {
    None
}

fn root_at_c(s: &Shape, _: &Keys) -> Option<Problem> {
    Some(Problem::Root {
        checkpoint: CheckpointId::Stored(s.c),
        size: s.sizes[s.c],
        from: s.before(s.c),
    })
}

fn fork_at_c(s: &Shape, _: &Keys) -> Option<Problem> {
    Some(Problem::Fork {
        checkpoint: CheckpointId::Published(s.c),
        size: s.sizes[s.c],
        from: s.before(s.c),
    })
}

fn chain_at_t(s: &Shape, _: &Keys) -> Option<Problem> {
    Some(Problem::Chain { seq: s.t })
}

fn first_unsigned(_: &Shape, k: &Keys) -> Option<Problem> {
    Some(Problem::Checkpoint { checkpoint: CheckpointId::Stored(0), error: k.not_signed() })
}

fn rolled_back_to_c(s: &Shape, _: &Keys) -> Option<Problem> {
    Some(Problem::RolledBack {
        checkpoint: CheckpointId::Published(s.c + 1),
        size: s.sizes[s.c + 1],
        log_size: s.sizes[s.c],
    })
}

fn uncovered_tail(s: &Shape, _: &Keys) -> Option<Problem> {
    Some(Problem::Uncovered { from: s.sizes[s.last() - 1], size: s.n })
}

fn uncovered_all(s: &Shape, _: &Keys) -> Option<Problem> {
    Some(Problem::Uncovered { from: 0, size: s.n })
}

/// Checkpoint `c` deleted: the one after it, now stored at `c`, names it.
fn gap_at_c(s: &Shape, _: &Keys) -> Option<Problem> {
    Some(Problem::CheckpointGap {
        checkpoint: CheckpointId::Stored(s.c),
        size: s.sizes[s.c + 1],
        after: s.before(s.c),
    })
}

/// The first checkpoint deleted: the second, now the first stored, names it.
fn gap_at_first(s: &Shape, _: &Keys) -> Option<Problem> {
    Some(Problem::CheckpointGap { checkpoint: CheckpointId::Stored(0), size: s.sizes[1], after: 0 })
}

fn head_changed(s: &Shape, _: &Keys) -> Option<Problem> {
    Some(Problem::Head { stored_size: s.n, log_size: s.n })
}

/// Every case. Each class of the issue has several.
pub fn cases() -> Vec<Case> {
    vec![
        // ---- edit ----
        Case {
            class: "edit",
            name: "one byte of a record",
            tamper: |log, s, _| log.records[s.t as usize].1 = edit(&log.records[s.t as usize].1),
            without: chain_at_t,
            with: chain_at_t,
        },
        Case {
            class: "edit",
            name: "a record, with the chain recomputed",
            tamper: |log, s, _| {
                log.records[s.t as usize].1 = edit(&log.records[s.t as usize].1);
                log.rechain(s.t as usize);
                log.fix_head();
            },
            without: root_at_c,
            with: root_at_c,
        },
        Case {
            class: "edit",
            name: "a record, chain recomputed, every checkpoint deleted",
            tamper: |log, s, _| {
                log.records[s.t as usize].1 = edit(&log.records[s.t as usize].1);
                log.rechain(s.t as usize);
                log.fix_head();
                log.checkpoints.clear();
            },
            without: uncovered_all,
            with: fork_at_c,
        },
        Case {
            class: "edit",
            name: "a stored chain hash",
            tamper: |log, s, _| log.records[s.t as usize].2[7] ^= 1,
            without: chain_at_t,
            with: chain_at_t,
        },
        Case {
            class: "edit",
            name: "the last record, with the chain and head recomputed",
            tamper: |log, s, _| {
                let last = s.n as usize - 1;
                log.records[last].1 = edit(&log.records[last].1);
                log.rechain(last);
                log.fix_head();
            },
            without: |s, _| {
                Some(Problem::Root {
                    checkpoint: CheckpointId::Stored(s.last()),
                    size: s.n,
                    from: s.before(s.last()),
                })
            },
            with: |s, _| {
                Some(Problem::Root {
                    checkpoint: CheckpointId::Stored(s.last()),
                    size: s.n,
                    from: s.before(s.last()),
                })
            },
        },
        Case {
            class: "edit",
            name: "a record, chain recomputed, checkpoints re-signed with another key",
            tamper: |log, s, k| {
                log.records[s.t as usize].1 = edit(&log.records[s.t as usize].1);
                log.rechain(s.t as usize);
                log.fix_head();
                let impostor = k.impostor();
                resign_all(log, &impostor);
            },
            without: first_unsigned,
            with: first_unsigned,
        },
        // ---- delete ----
        Case {
            class: "delete",
            name: "a record",
            tamper: |log, s, _| {
                log.records.remove(s.t as usize);
            },
            without: |s, _| Some(Problem::Sequence { expected: s.t, found: s.t + 1 }),
            with: |s, _| Some(Problem::Sequence { expected: s.t, found: s.t + 1 }),
        },
        Case {
            class: "delete",
            name: "a record, the stored numbers closed up",
            tamper: |log, s, _| {
                log.records.remove(s.t as usize);
                for (i, r) in log.records.iter_mut().enumerate() {
                    r.0 = i as u64;
                }
            },
            without: |s, _| Some(Problem::SeqField { seq: s.t, found: s.t + 1 }),
            with: |s, _| Some(Problem::SeqField { seq: s.t, found: s.t + 1 }),
        },
        Case {
            class: "delete",
            name: "a record, renumbered and re-chained, head recomputed",
            tamper: |log, s, _| {
                log.records.remove(s.t as usize);
                log.renumber();
                log.fix_head();
            },
            without: root_at_c,
            with: root_at_c,
        },
        Case {
            class: "delete",
            name: "the first record",
            tamper: |log, _, _| {
                log.records.remove(0);
            },
            without: |_, _| Some(Problem::Sequence { expected: 0, found: 1 }),
            with: |_, _| Some(Problem::Sequence { expected: 0, found: 1 }),
        },
        Case {
            class: "delete",
            name: "a record, renumbered, re-chained, every checkpoint deleted",
            tamper: |log, s, _| {
                log.records.remove(s.t as usize);
                log.renumber();
                log.fix_head();
                log.checkpoints.clear();
            },
            without: |s, _| Some(Problem::Uncovered { from: 0, size: s.n - 1 }),
            with: fork_at_c,
        },
        // ---- reorder ----
        Case {
            class: "reorder",
            name: "two rows swapped",
            tamper: |log, s, _| log.records.swap(s.t as usize, s.t as usize + 1),
            without: |s, _| Some(Problem::Sequence { expected: s.t, found: s.t + 1 }),
            with: |s, _| Some(Problem::Sequence { expected: s.t, found: s.t + 1 }),
        },
        Case {
            class: "reorder",
            name: "two records' contents swapped under their numbers",
            tamper: |log, s, _| {
                let (a, b) = (s.t as usize, s.t as usize + 1);
                let (x, y) = (log.records[a].clone(), log.records[b].clone());
                log.records[a] = (a as u64, y.1, y.2);
                log.records[b] = (b as u64, x.1, x.2);
            },
            without: |s, _| Some(Problem::SeqField { seq: s.t, found: s.t + 1 }),
            with: |s, _| Some(Problem::SeqField { seq: s.t, found: s.t + 1 }),
        },
        Case {
            class: "reorder",
            name: "two records swapped, renumbered and re-chained",
            tamper: |log, s, _| {
                log.records.swap(s.t as usize, s.t as usize + 1);
                log.renumber();
                log.fix_head();
            },
            without: root_at_c,
            with: root_at_c,
        },
        // ---- insert ----
        Case {
            class: "insert",
            name: "a copy of the first record",
            tamper: |log, s, _| {
                let copy = log.records[0].clone();
                log.records.insert(s.t as usize, copy);
            },
            without: |s, _| Some(Problem::Sequence { expected: s.t, found: 0 }),
            with: |s, _| Some(Problem::Sequence { expected: s.t, found: 0 }),
        },
        Case {
            class: "insert",
            name: "a forged record, the rest renumbered and re-chained",
            tamper: |log, s, _| {
                let bytes = forged(&log.records[0].1, s.t, "insert");
                log.records.insert(s.t as usize, (s.t, bytes, [0; 32]));
                log.renumber();
                log.fix_head();
            },
            without: root_at_c,
            with: root_at_c,
        },
        Case {
            class: "insert",
            name: "a forged record, re-chained, every checkpoint deleted",
            tamper: |log, s, _| {
                let bytes = forged(&log.records[0].1, s.t, "insert");
                log.records.insert(s.t as usize, (s.t, bytes, [0; 32]));
                log.renumber();
                log.fix_head();
                log.checkpoints.clear();
            },
            without: |s, _| Some(Problem::Uncovered { from: 0, size: s.n + 1 }),
            with: fork_at_c,
        },
        // ---- append ----
        Case {
            class: "append",
            name: "a forged record after the last checkpoint",
            tamper: |log, s, _| {
                let bytes = forged(&log.records[0].1, s.n, "append");
                let hash = chain_hash(&log.records[s.n as usize - 1].2, &bytes);
                log.records.push((s.n, bytes, hash));
            },
            without: |s, _| Some(Problem::Uncovered { from: s.n, size: s.n + 1 }),
            with: |s, _| Some(Problem::Uncovered { from: s.n, size: s.n + 1 }),
        },
        Case {
            class: "append",
            name: "a forged record, head recomputed",
            tamper: |log, s, _| {
                let bytes = forged(&log.records[0].1, s.n, "append");
                let hash = chain_hash(&log.records[s.n as usize - 1].2, &bytes);
                log.records.push((s.n, bytes, hash));
                log.fix_head();
            },
            without: |s, _| Some(Problem::Uncovered { from: s.n, size: s.n + 1 }),
            with: |s, _| Some(Problem::Uncovered { from: s.n, size: s.n + 1 }),
        },
        Case {
            class: "append",
            name: "a forged record with a checkpoint signed by another key",
            tamper: |log, s, k| {
                let bytes = forged(&log.records[0].1, s.n, "append");
                let hash = chain_hash(&log.records[s.n as usize - 1].2, &bytes);
                log.records.push((s.n, bytes, hash));
                log.fix_head();
                log.checkpoint_now(&k.impostor());
            },
            without: |s, k| {
                Some(Problem::Checkpoint {
                    checkpoint: CheckpointId::Stored(s.last() + 1),
                    error: k.not_signed(),
                })
            },
            with: |s, k| {
                Some(Problem::Checkpoint {
                    checkpoint: CheckpointId::Stored(s.last() + 1),
                    error: k.not_signed(),
                })
            },
        },
        Case {
            class: "append",
            name: "five forged records, head recomputed",
            tamper: |log, s, _| {
                for seq in s.n..s.n + 5 {
                    let bytes = forged(&log.records[0].1, seq, "append");
                    let hash = chain_hash(&log.records[seq as usize - 1].2, &bytes);
                    log.records.push((seq, bytes, hash));
                }
                log.fix_head();
            },
            without: |s, _| Some(Problem::Uncovered { from: s.n, size: s.n + 5 }),
            with: |s, _| Some(Problem::Uncovered { from: s.n, size: s.n + 5 }),
        },
        // ---- truncate ----
        Case {
            class: "truncate",
            name: "the last record",
            tamper: |log, s, _| log.records.truncate(s.n as usize - 1),
            without: |s, _| {
                Some(Problem::Truncated {
                    checkpoint: CheckpointId::Stored(s.last()),
                    size: s.n,
                    log_size: s.n - 1,
                })
            },
            with: |s, _| {
                Some(Problem::Truncated {
                    checkpoint: CheckpointId::Stored(s.last()),
                    size: s.n,
                    log_size: s.n - 1,
                })
            },
        },
        Case {
            class: "truncate",
            name: "at a checkpoint, later checkpoints deleted, head left",
            tamper: |log, s, _| {
                log.records.truncate(s.sizes[s.c] as usize);
                log.drop_checkpoints_above(s.sizes[s.c]);
            },
            without: |s, _| Some(Problem::Head { stored_size: s.n, log_size: s.sizes[s.c] }),
            with: rolled_back_to_c,
        },
        Case {
            class: "truncate",
            name: "at a checkpoint, later checkpoints deleted, head recomputed",
            tamper: |log, s, _| {
                log.records.truncate(s.sizes[s.c] as usize);
                log.drop_checkpoints_above(s.sizes[s.c]);
                log.fix_head();
            },
            without: undetected,
            with: rolled_back_to_c,
        },
        Case {
            class: "truncate",
            name: "every record (the checkpoints left)",
            tamper: |log, _, _| log.records.clear(),
            without: |s, _| {
                Some(Problem::Truncated {
                    checkpoint: CheckpointId::Stored(0),
                    size: s.sizes[0],
                    log_size: 0,
                })
            },
            with: |s, _| {
                Some(Problem::Truncated {
                    checkpoint: CheckpointId::Stored(0),
                    size: s.sizes[0],
                    log_size: 0,
                })
            },
        },
        Case {
            class: "truncate",
            name: "everything: records, checkpoints and head",
            tamper: |log, _, _| log.older_copy(0),
            without: |_, _| Some(Problem::NoCheckpoint),
            with: |s, _| {
                Some(Problem::Truncated {
                    checkpoint: CheckpointId::Published(0),
                    size: s.sizes[0],
                    log_size: 0,
                })
            },
        },
        // ---- rollback to an older copy ----
        Case {
            class: "rollback",
            name: "to the copy at the middle checkpoint",
            tamper: |log, s, _| log.older_copy(s.sizes[s.c]),
            without: undetected,
            with: rolled_back_to_c,
        },
        Case {
            class: "rollback",
            name: "to the copy at the first checkpoint",
            tamper: |log, s, _| log.older_copy(s.sizes[0]),
            without: undetected,
            with: |s, _| {
                Some(Problem::RolledBack {
                    checkpoint: CheckpointId::Published(1),
                    size: s.sizes[1],
                    log_size: s.sizes[0],
                })
            },
        },
        Case {
            class: "rollback",
            name: "to the copy before the last checkpoint",
            tamper: |log, s, _| log.older_copy(s.sizes[s.last() - 1]),
            without: undetected,
            with: |s, _| {
                Some(Problem::RolledBack {
                    checkpoint: CheckpointId::Published(s.last()),
                    size: s.n,
                    log_size: s.sizes[s.last() - 1],
                })
            },
        },
        // ---- fork ----
        Case {
            class: "fork",
            name: "rolled back, then the writer carried on past the published size",
            tamper: |log, s, k| {
                let template = log.records[0].1.clone();
                log.older_copy(s.sizes[s.c]);
                log.carry_on(&template, s.n - s.sizes[s.c] + 3, 2, &k.real);
            },
            without: undetected,
            with: |s, _| {
                Some(Problem::Fork {
                    checkpoint: CheckpointId::Published(s.c + 1),
                    size: s.sizes[s.c + 1],
                    from: s.sizes[s.c],
                })
            },
        },
        Case {
            class: "fork",
            name: "rolled back to the first checkpoint, carried on to the same size",
            tamper: |log, s, k| {
                let template = log.records[0].1.clone();
                log.older_copy(s.sizes[0]);
                log.carry_on(&template, s.n - s.sizes[0], 1, &k.real);
            },
            without: undetected,
            with: |s, _| {
                Some(Problem::Fork {
                    checkpoint: CheckpointId::Published(1),
                    size: s.sizes[1],
                    from: s.sizes[0],
                })
            },
        },
        // ---- key swap ----
        Case {
            class: "key swap",
            name: "the whole log forged and signed with another key",
            tamper: |log, s, k| {
                let template = log.records[0].1.clone();
                log.older_copy(0);
                log.carry_on(&template, s.n, 1, &k.impostor());
            },
            without: first_unsigned,
            with: first_unsigned,
        },
        Case {
            class: "key swap",
            name: "the whole log forged under another key, its checkpoints dropped",
            tamper: |log, s, k| {
                let template = log.records[0].1.clone();
                log.older_copy(0);
                log.carry_on(&template, s.n, 1, &k.impostor());
                log.checkpoints.clear();
            },
            without: uncovered_all,
            with: |s, _| {
                Some(Problem::Fork {
                    checkpoint: CheckpointId::Published(0),
                    size: s.sizes[0],
                    from: 0,
                })
            },
        },
        Case {
            class: "key swap",
            name: "one checkpoint re-signed with another key",
            tamper: |log, s, k| {
                let note = &mut log.checkpoints[s.c];
                *note = sign_checkpoint(&body(note), &k.impostor()).unwrap();
            },
            without: |s, k| {
                Some(Problem::Checkpoint {
                    checkpoint: CheckpointId::Stored(s.c),
                    error: k.not_signed(),
                })
            },
            with: |s, k| {
                Some(Problem::Checkpoint {
                    checkpoint: CheckpointId::Stored(s.c),
                    error: k.not_signed(),
                })
            },
        },
        Case {
            class: "key swap",
            name: "every checkpoint re-signed with another key, records untouched",
            tamper: |log, _, k| resign_all(log, &k.impostor()),
            without: first_unsigned,
            with: first_unsigned,
        },
        // ---- checkpoint removal ----
        Case {
            class: "checkpoint removal",
            name: "every checkpoint",
            tamper: |log, _, _| log.checkpoints.clear(),
            without: uncovered_all,
            with: uncovered_all,
        },
        Case {
            class: "checkpoint removal",
            name: "the last checkpoint",
            tamper: |log, _, _| {
                log.checkpoints.pop();
            },
            without: uncovered_tail,
            with: uncovered_tail,
        },
        Case {
            class: "checkpoint removal",
            name: "one in the middle",
            tamper: |log, s, _| {
                log.checkpoints.remove(s.c);
            },
            without: gap_at_c,
            with: gap_at_c,
        },
        Case {
            class: "checkpoint removal",
            name: "two in the middle",
            tamper: |log, s, _| {
                log.checkpoints.drain(s.c..s.c + 2);
            },
            without: |s, _| {
                Some(Problem::CheckpointGap {
                    checkpoint: CheckpointId::Stored(s.c),
                    size: s.sizes[s.c + 2],
                    after: s.before(s.c),
                })
            },
            with: |s, _| {
                Some(Problem::CheckpointGap {
                    checkpoint: CheckpointId::Stored(s.c),
                    size: s.sizes[s.c + 2],
                    after: s.before(s.c),
                })
            },
        },
        Case {
            class: "checkpoint removal",
            name: "the first",
            tamper: |log, _, _| {
                log.checkpoints.remove(0);
            },
            without: gap_at_first,
            with: gap_at_first,
        },
        Case {
            class: "checkpoint removal",
            name: "every one but the last",
            tamper: |log, s, _| {
                log.checkpoints.drain(..s.last());
            },
            without: |s, _| {
                Some(Problem::CheckpointGap {
                    checkpoint: CheckpointId::Stored(0),
                    size: s.n,
                    after: 0,
                })
            },
            with: |s, _| {
                // The published ones are checked first at their sizes (all good), the
                // stored last one then at the end.
                Some(Problem::CheckpointGap {
                    checkpoint: CheckpointId::Stored(0),
                    size: s.n,
                    after: 0,
                })
            },
        },
        Case {
            class: "checkpoint removal",
            name: "the last checkpoint replaced by a copy of the one before",
            tamper: |log, s, _| {
                let copy = log.checkpoints[s.last() - 1].clone();
                *log.checkpoints.last_mut().unwrap() = copy;
            },
            without: uncovered_tail,
            with: uncovered_tail,
        },
        // ---- head corruption ----
        Case {
            class: "head",
            name: "the head set back to an older state",
            tamper: |log, s, _| log.head = state_of(&log.records[..s.sizes[s.c] as usize]),
            without: |s, _| Some(Problem::Head { stored_size: s.sizes[s.c], log_size: s.n }),
            with: |s, _| Some(Problem::Head { stored_size: s.sizes[s.c], log_size: s.n }),
        },
        Case {
            class: "head",
            name: "the head's chain hash changed",
            tamper: |log, _, _| {
                let mut head = log.head.head();
                head[0] ^= 1;
                log.head = LogState::resume(head, log.head.range().clone());
            },
            without: head_changed,
            with: head_changed,
        },
        Case {
            class: "head",
            name: "the head's Merkle range changed",
            tamper: |log, _, _| {
                let mut nodes = log.head.range().nodes().to_vec();
                nodes[0][0] ^= 1;
                let range = aecl_audit::CompactRange::from_parts(log.head.next_seq(), nodes);
                log.head = LogState::resume(log.head.head(), range.unwrap());
            },
            without: head_changed,
            with: head_changed,
        },
        Case {
            class: "head",
            name: "the head deleted",
            tamper: |log, _, _| log.head = LogState::new(),
            without: |s, _| Some(Problem::Head { stored_size: 0, log_size: s.n }),
            with: |s, _| Some(Problem::Head { stored_size: 0, log_size: s.n }),
        },
    ]
}

/// Every class of the issue has a case.
pub const CLASSES: [&str; 11] = [
    "edit",
    "delete",
    "reorder",
    "insert",
    "append",
    "truncate",
    "rollback",
    "fork",
    "key swap",
    "checkpoint removal",
    "head",
];

/// A detected problem names the first bad record or checkpoint.
pub fn names_a_place(problem: &Problem) -> bool {
    problem.first_bad_seq().is_some()
        || problem.checkpoint().is_some()
        || matches!(problem, Problem::NoCheckpoint | Problem::Head { .. })
}

/// Silences the unused warning of `json` in binaries that do not call it.
pub fn record_at(log: &Log, i: u64) -> AuditRecord {
    json(log, i)
}

/// The add-checkpoint bodies a writer publishes for `checkpoints` (in size order) over
/// `records`: each with the consistency proof from the one before.
pub fn publish_all(records: &[StoredRecord], checkpoints: &[String]) -> Vec<Vec<u8>> {
    let leaves = records.iter().map(|r| aecl_audit::merkle::leaf_hash(&r.1)).collect();
    let tree = aecl_audit::MerkleTree::from_leaf_hashes(leaves);
    let mut old = 0;
    let mut out = Vec::new();
    for note in checkpoints {
        let size = body(note).size;
        let proof = tree.prove_consistency(old, size).unwrap();
        let request = aecl_audit::AddCheckpoint { old_size: old, proof, checkpoint: note.clone() };
        out.push(request.to_text().into_bytes());
        old = size;
    }
    out
}

/// Verifies `log` with its head, with or without its published checkpoints.
pub fn verify(log: &Log, key: &aecl_audit::VerifierKey, with_published: bool) -> Option<Problem> {
    let options = aecl_audit::VerifyOptions {
        published: if with_published { &log.published } else { &[] },
        head: Some(log.head.clone()),
        origin: Some(key.name()),
        threads: 2,
        ..aecl_audit::VerifyOptions::default()
    };
    aecl_audit::verify_log_with(log.records.iter().cloned(), &log.checkpoints, key, &options)
        .problem
}

/// Runs every case on `log` (untouched, with published checkpoints), keeping only those that
/// `representable` says the store can hold; returns how many ran. Panics with every
/// mismatch at once.
pub fn run_matrix(
    log: &Log,
    keys: &Keys,
    representable: impl Fn(&Log) -> bool,
    verify: impl Fn(&Log, bool) -> Option<Problem>,
) -> usize {
    let shape = Shape::of(log);
    for with in [false, true] {
        assert_eq!(verify(log, with), None, "the untouched log must verify");
    }
    let mut failures = Vec::new();
    let mut ran = 0;
    let mut classes = std::collections::BTreeSet::new();
    for case in cases() {
        let mut tampered = log.clone();
        (case.tamper)(&mut tampered, &shape, keys);
        if !representable(&tampered) {
            continue;
        }
        ran += 1;
        classes.insert(case.class);
        assert!((case.with)(&shape, keys).is_some(), "{}: must be detected with them", case.name);
        for (with, expect) in [(false, case.without), (true, case.with)] {
            let expected = expect(&shape, keys);
            let found = verify(&tampered, with);
            if found != expected {
                failures.push(format!(
                    "{} / {} (published: {with}):\n  expected {expected:?}\n  found    {found:?}",
                    case.class, case.name
                ));
            }
            if let Some(problem) = &found {
                assert!(names_a_place(problem), "{}: {problem} names no record", case.name);
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    for class in CLASSES {
        assert!(classes.contains(class), "no case of class `{class}` ran");
    }
    ran
}
