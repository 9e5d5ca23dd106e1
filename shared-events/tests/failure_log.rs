//! `failure.json`: always a JSON array, appended in place, repaired after a torn append, safe to
//! share between tasks and between processes; every record checksummed, any other damage
//! refused with its offset, and what a check reports, a repair gets past.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;
use shared_events::storage::checksum::{Seal, check_object};
use shared_events::storage::failure_log::{
    FailureLog, FailureLogError, FailureRecord, Replay, ReplayOutcome,
};
use test_support::damage::{flip_each, offsets};

fn record(n: usize) -> FailureRecord {
    let now = Utc::now();
    FailureRecord {
        id: format!("{}-{n}", uuid::Uuid::now_v7()),
        service: "billing".to_owned(),
        queue: "orders.billing".to_owned(),
        event_id: Some(uuid::Uuid::now_v7().to_string()),
        order_id: None,
        reason: format!("failure number {n}, with \"quotes\" and a\nnewline"),
        attempts: 4,
        x_death: serde_json::json!([{"queue": "orders.billing.retry.100ms", "reason": "expired", "count": 3}]),
        first_failure_at: now,
        last_failure_at: now,
        recorded_at: now,
        payload: "{\"id\":1}".to_owned(),
        replays: Vec::new(),
        resolved_at: None,
    }
}

/// The file as JSON: it must always parse as an array.
fn parsed(path: &Path) -> Vec<Value> {
    let content = fs::read(path).expect("read");
    let value: Value = serde_json::from_slice(&content)
        .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&content)));
    value.as_array().expect("an array").clone()
}

#[test]
fn a_new_log_is_an_empty_array() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failure.json");

    let log = FailureLog::open(&path).expect("opens");

    assert_eq!(fs::read(&path).expect("read"), b"[\n]\n");
    assert!(log.records().expect("records").is_empty());
}

#[test]
fn appended_records_survive_reopening_one_per_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failure.json");
    let records: Vec<_> = (0..3).map(record).collect();

    let log = FailureLog::open(&path).expect("opens");
    for record in &records {
        log.append(record).expect("appends");
        parsed(&path);
    }
    drop(log);

    let reopened = FailureLog::open(&path).expect("reopens");
    assert_eq!(reopened.records().expect("records"), records);
    let text = fs::read_to_string(&path).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "[, three records, ]: {text}");
    assert_eq!((lines[0], lines[4]), ("[", "]"));
    reopened
        .append(&record(3))
        .expect("appends after reopening");
    assert_eq!(parsed(&path).len(), 4);
}

#[test]
fn a_torn_append_is_repaired_at_every_offset() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failure.json");
    let log = FailureLog::open(&path).expect("opens");
    let kept = vec![record(0), record(1)];
    for record in &kept {
        log.append(record).expect("appends");
    }
    let before = fs::read(&path).expect("read");
    log.append(&record(2)).expect("appends");
    let after = fs::read(&path).expect("read");
    drop(log);
    // The third append rewrote the file from just after the second record.
    let start = before.len() - b"\n]\n".len();
    assert_eq!(before[..start], after[..start]);

    // The new record is whole once its closing brace is written (",\n{...}").
    let third_end = after.len() - b"\n]\n".len();

    // A crash persists some prefix of the new bytes over the old ones, or the new length with
    // nothing (zeros) written.
    let mut torn_states = Vec::new();
    for written in 0..after.len() - start {
        let mut state = after[..start + written].to_vec();
        if state.len() < before.len() {
            state.extend_from_slice(&before[state.len()..]);
        }
        torn_states.push((state, usize::from(start + written >= third_end)));
    }
    let mut zeros = before[..start].to_vec();
    zeros.resize(after.len(), 0);
    torn_states.push((zeros, 0));

    for (case, (state, third)) in torn_states.iter().enumerate() {
        fs::write(&path, state).expect("write torn state");
        let log = FailureLog::open(&path).unwrap_or_else(|error| panic!("case {case}: {error}"));
        let whole = kept.len() + third;
        assert_eq!(
            parsed(&path).len(),
            whole,
            "case {case}: the whole records are kept"
        );
        assert_eq!(log.records().expect("records")[..2], kept, "case {case}");
        log.append(&record(9)).expect("appends after repair");
        assert_eq!(parsed(&path).len(), whole + 1, "case {case}");
    }
}

#[test]
fn every_prefix_of_a_log_opens_with_the_records_it_wholly_holds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failure.json");
    let log = FailureLog::open(&path).expect("opens");
    let records: Vec<_> = (0..3).map(record).collect();
    for record in &records {
        log.append(record).expect("appends");
    }
    drop(log);
    let full = fs::read(&path).expect("read");
    // Where each record's line ends: a prefix holds a record once it holds its closing brace.
    let ends: Vec<usize> = full
        .split(|byte| *byte == b'\n')
        .scan(0, |offset, line| {
            *offset += line.len() + 1;
            Some((*offset, line))
        })
        .filter(|(_, line)| line.starts_with(b"{"))
        .map(|(offset, line)| offset - 1 - usize::from(line.ends_with(b",")))
        .collect();

    // An empty file is damage (the file is only ever replaced whole), not a torn append.
    fs::write(&path, b"").expect("write an empty file");
    assert!(matches!(
        FailureLog::open(&path),
        Err(FailureLogError::Corrupt { offset: 0, .. })
    ));
    for cut in 1..=full.len() {
        fs::write(&path, &full[..cut]).expect("write prefix");
        let log = FailureLog::open(&path).unwrap_or_else(|error| panic!("cut at {cut}: {error}"));
        let whole = ends.iter().filter(|end| **end <= cut).count();
        assert_eq!(
            log.records().expect("records"),
            records[..whole],
            "cut at {cut}"
        );
        assert_eq!(parsed(&path).len(), whole, "cut at {cut}");
    }
}

#[test]
fn damage_followed_by_whole_records_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failure.json");
    let log = FailureLog::open(&path).expect("opens");
    for n in 0..3 {
        log.append(&record(n)).expect("appends");
    }
    drop(log);
    let mut content = fs::read_to_string(&path).expect("read");
    let second_line = content.find("\n{").expect("a record line") + 1;
    let damage_at = content[second_line + 1..].find("\n{").expect("another") + second_line + 2;
    content.replace_range(damage_at..damage_at + 10, "##########");
    fs::write(&path, &content).expect("write");

    let result = FailureLog::open(&path);

    assert!(
        matches!(result, Err(FailureLogError::Corrupt { .. })),
        "{result:?}"
    );
    assert_eq!(
        fs::read_to_string(&path).expect("read"),
        content,
        "untouched"
    );
}

#[test]
fn a_file_that_is_not_an_array_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failure.json");
    fs::write(&path, b"{\"not\": \"an array\"}\n").expect("write");

    assert!(matches!(
        FailureLog::open(&path),
        Err(FailureLogError::Corrupt { .. })
    ));
}

#[test]
fn an_empty_file_is_refused_until_a_repair_makes_it_an_empty_array() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failure.json");
    fs::write(&path, b"").expect("write");

    let error = FailureLog::open(&path).expect_err("an empty file");
    let problems = FailureLog::check(&path);
    let dropped = FailureLog::repair(&path).expect("repairs");

    assert!(
        matches!(error, FailureLogError::Corrupt { offset: 0, .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("failure.json") && message.contains("empty"),
        "{message}"
    );
    assert!(message.contains("data repair"), "{message}");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].offset, Some(0));
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert!(dropped[0].what.contains("empty"), "{dropped:?}");
    assert_eq!(fs::read(&path).expect("read"), b"[\n]\n");
    let log = FailureLog::open(&path).expect("opens after the repair");
    assert!(log.records().expect("records").is_empty());
}

/// A log of `count` records, and the records.
fn log_with(path: &Path, count: usize) -> Vec<FailureRecord> {
    let log = FailureLog::open(path).expect("opens");
    let records: Vec<_> = (0..count).map(record).collect();
    for record in &records {
        log.append(record).expect("appends");
    }
    records
}

/// Where each record's line starts.
fn record_starts(path: &Path) -> Vec<usize> {
    let content = fs::read(path).expect("read");
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in content.split(|byte| *byte == b'\n') {
        if line.starts_with(b"{") {
            starts.push(offset);
        }
        offset += line.len() + 1;
    }
    starts
}

/// Opens `failure.json` in `dir` as a service does, after checking that `check` agrees.
fn open_records(dir: &Path) -> Result<Vec<FailureRecord>, String> {
    let path = dir.join("failure.json");
    let problems = FailureLog::check(&path);
    let opened = FailureLog::open(&path)
        .and_then(|log| log.records())
        .map_err(|error| error.to_string());
    assert_eq!(
        problems.is_empty(),
        opened.is_ok(),
        "check and open disagree: {problems:?} / {opened:?}"
    );
    opened
}

#[test]
fn every_flip_is_refused_at_or_before_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failure.json");
    let records = log_with(&path, 4);
    let len = fs::metadata(&path).expect("file").len() as usize;

    let report = flip_each(
        dir.path(),
        "failure.json",
        &offsets(len, 400),
        open_records,
        &records,
    );

    assert!(report.refused > 300, "{report:?}");
}

#[test]
fn every_record_is_sealed_when_appended_and_when_rewritten() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failure.json");
    let records = log_with(&path, 3);
    let sealed = |path: &Path| {
        let content = fs::read(path).expect("read");
        content
            .split(|byte| *byte == b'\n')
            .filter(|line| line.starts_with(b"{"))
            .all(|line| check_object(line.strip_suffix(b",").unwrap_or(line)) == Seal::Verified)
    };
    assert!(sealed(&path), "appended");

    let log = FailureLog::open(&path).expect("opens");
    let target = records[0].id.clone();
    log.update(|record| {
        record.resolved_at = Some(Utc::now());
        record.id == target
    })
    .expect("updates");

    assert!(sealed(&path), "rewritten");
}

#[test]
fn a_checksum_mismatch_in_the_last_record_is_refused_never_cut_as_torn() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failure.json");
    log_with(&path, 3);
    let last = *record_starts(&path).last().expect("records");
    let mut content = fs::read(&path).expect("read");
    // A letter of the reason: still JSON, only the checksum tells.
    let inside = last
        + content[last..]
            .windows(7)
            .position(|window| window == b"failure")
            .expect("the reason");
    content[inside] ^= 0x20;
    fs::write(&path, &content).expect("damaged");

    let result = FailureLog::open(&path);

    assert!(
        matches!(result, Err(FailureLogError::Corrupt { offset, .. }) if offset == last as u64),
        "{result:?}"
    );
    assert_eq!(fs::read(&path).expect("read"), content, "untouched");
}

#[test]
fn records_verify_what_they_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failure.json");
    log_with(&path, 2);
    let log = FailureLog::open(&path).expect("opens");
    let first = record_starts(&path)[0];
    let mut content = fs::read(&path).expect("read");
    content[first + 30] ^= 0x01;
    // Same file, same length: the handle does not read it again, but every read verifies.
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|file| std::os::unix::fs::FileExt::write_all_at(&file, &content, 0))
        .expect("damaged in place");

    let result = log.records();

    assert!(
        matches!(result, Err(FailureLogError::Corrupt { offset, .. }) if offset == first as u64),
        "{result:?}"
    );
}

#[test]
fn records_from_before_checksums_are_accepted_only_before_the_first_checksummed_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failure.json");
    let old: Vec<_> = (0..2).map(record).collect();
    let old_lines: Vec<String> = old
        .iter()
        .map(|record| serde_json::to_string(record).expect("encodes"))
        .collect();
    fs::write(&path, format!("[\n{}\n]\n", old_lines.join(",\n"))).expect("an old file");

    let log = FailureLog::open(&path).expect("opens an old file");
    let new = record(2);
    log.append(&new).expect("appends");
    drop(log);
    let mut all = old.clone();
    all.push(new);
    assert_eq!(
        FailureLog::open(&path)
            .expect("reopens")
            .records()
            .expect("records"),
        all
    );

    let content = fs::read_to_string(&path).expect("read");
    let unchecked = serde_json::to_string(&record(3)).expect("encodes");
    let appended_by_hand = content.replacen("\n]\n", &format!(",\n{unchecked}\n]\n"), 1);
    fs::write(&path, &appended_by_hand).expect("an old record after a new one");
    let offset = appended_by_hand.find(&unchecked).expect("the record") as u64;
    let result = FailureLog::open(&path);
    assert!(
        matches!(result, Err(FailureLogError::Corrupt { offset: at, .. }) if at == offset),
        "{result:?}"
    );
}

#[test]
fn a_check_names_each_damaged_record_and_a_repair_keeps_the_others() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failure.json");
    let records = log_with(&path, 5);
    let starts = record_starts(&path);
    let mut content = fs::read(&path).expect("read");
    // Record 1: a letter of its reason (its id still reads). Record 3: its JSON broken.
    let reason = starts[1]
        + content[starts[1]..]
            .windows(7)
            .position(|window| window == b"failure")
            .expect("the reason");
    content[reason] ^= 0x20;
    content[starts[3] + 1] = b'#';
    fs::write(&path, &content).expect("damaged");

    let problems = FailureLog::check(&path);
    let dropped = FailureLog::repair(&path).expect("repairs");

    let offsets: Vec<_> = problems.iter().map(|problem| problem.offset).collect();
    assert_eq!(
        offsets,
        vec![Some(starts[1] as u64), Some(starts[3] as u64)],
        "{problems:?}"
    );
    assert!(problems.iter().all(|problem| problem.file == path));
    assert_eq!(dropped.len(), 2, "{dropped:?}");
    assert!(
        dropped[0].what.contains(&records[1].id)
            && dropped[0]
                .what
                .contains(&format!("from byte {}", starts[1])),
        "{dropped:?}"
    );
    assert!(
        dropped[1]
            .what
            .contains(&format!("from byte {}", starts[3])),
        "{dropped:?}"
    );
    assert!(FailureLog::check(&path).is_empty());
    let kept = FailureLog::open(&path)
        .expect("opens after the repair")
        .records()
        .expect("records");
    assert_eq!(
        kept,
        vec![records[0].clone(), records[2].clone(), records[4].clone()]
    );
}

#[test]
fn concurrent_appends_from_threads_and_a_second_handle_all_land() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failure.json");
    let log = Arc::new(FailureLog::open(&path).expect("opens"));
    // A second, independent handle on the same file: what another process would hold.
    let other = Arc::new(FailureLog::open(&path).expect("opens again"));

    let threads: Vec<_> = (0..8)
        .map(|thread| {
            let log = if thread % 2 == 0 {
                Arc::clone(&log)
            } else {
                Arc::clone(&other)
            };
            std::thread::spawn(move || {
                for n in 0..25 {
                    log.append(&record(thread * 100 + n)).expect("appends");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no panic");
    }

    let records = log.records().expect("records");
    assert_eq!(records.len(), 200);
    let ids: std::collections::HashSet<_> = records.iter().map(|record| &record.id).collect();
    assert_eq!(ids.len(), 200, "no record lost or doubled");
    assert_eq!(parsed(&path).len(), 200);
    assert_eq!(other.records().expect("records").len(), 200);
}

#[test]
fn updates_rewrite_the_file_and_appends_continue_after_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failure.json");
    let log = FailureLog::open(&path).expect("opens");
    let other = FailureLog::open(&path).expect("a second handle");
    let records: Vec<_> = (0..3).map(record).collect();
    for record in &records {
        log.append(record).expect("appends");
    }

    let target = records[1].id.clone();
    let changed = other
        .update(|record| {
            if record.id != target {
                return false;
            }
            record.replays.push(Replay {
                at: Utc::now(),
                outcome: ReplayOutcome::Published,
            });
            true
        })
        .expect("updates");

    assert_eq!(changed, 1);
    // The first handle notices that the file was replaced and appends to the new one.
    log.append(&record(3))
        .expect("appends after another handle's update");
    let now = log.records().expect("records");
    assert_eq!(now.len(), 4);
    assert!(now[1].is_replayed());
    assert!(!now[0].is_replayed());
    assert_eq!(
        FailureLog::open(&path)
            .expect("reopens")
            .records()
            .expect("records"),
        now
    );
    assert_eq!(log.update(|_| false).expect("no change"), 0);
}

#[test]
fn append_unique_records_an_id_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failure.json");
    let log = FailureLog::open(&path).expect("opens");
    let first = record(0);

    assert!(log.append_unique(&first).expect("appends"));
    assert!(!log.append_unique(&first).expect("skips"));
    assert!(
        !FailureLog::open(&path)
            .expect("reopens")
            .append_unique(&first)
            .expect("skips after reopening")
    );
    assert_eq!(log.records().expect("records").len(), 1);
}

#[tokio::test]
async fn async_wrappers_work_from_a_runtime() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = FailureLog::open(&dir.path().join("failure.json")).expect("opens");
    let tasks: Vec<_> = (0..10)
        .map(|n| {
            let log = log.clone();
            tokio::spawn(async move { log.append_async(record(n)).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("no panic").expect("appends");
    }

    assert_eq!(log.records_async().await.expect("records").len(), 10);
    let resolved = log
        .update_async(|record| {
            record.resolved_at = Some(Utc::now());
            true
        })
        .await
        .expect("updates");
    assert_eq!(resolved, 10);
}

#[test]
fn an_unfinished_append_is_no_problem_for_a_check_and_a_repair_says_it_cut_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failure.json");
    let records = log_with(&path, 2);
    let mut content = fs::read(&path).expect("read");
    let close = content.len() - b"\n]\n".len();
    content.truncate(close);
    content.extend_from_slice(b",\n{\"id\":\"never-acknowledged\",\"serv");
    fs::write(&path, &content).expect("torn");

    let problems = FailureLog::check(&path);
    let dropped = FailureLog::repair(&path).expect("repairs");

    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert!(
        dropped[0]
            .what
            .contains(&format!("from byte {}", close + 2))
            && dropped[0].what.contains("never finished"),
        "{dropped:?}"
    );
    assert_eq!(
        FailureLog::open(&path)
            .expect("opens")
            .records()
            .expect("records"),
        records
    );
}
