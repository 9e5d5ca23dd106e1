//! A durable state's files damaged one flipped bit at a time, and by hand: the state opens with
//! exactly what was acknowledged or is refused naming the file and the byte, `check` agrees
//! with `open`, and `repair` gets past what `check` reports.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use test_support::damage::{FlipReport, flip_each, offsets};

use super::tests::{Counters, add, counters, entries, write_journal, write_snapshot};
use super::{DurableState, DurableStateError, check, repair};

const NAME: &str = "counters";
const SNAPSHOT: &str = "counters.json";
const JOURNAL: &str = "counters-journal.jsonl";

/// Opens the state in `dir` as the service does, after checking that `check` agrees.
fn open(dir: &Path) -> Result<BTreeMap<String, i64>, String> {
    let problems = check(dir, NAME);
    let opened = DurableState::<Counters>::open(dir, NAME)
        .map(|state| state.read(|counters| counters.0.clone()))
        .map_err(|error| error.to_string());
    assert_eq!(
        problems.is_empty(),
        opened.is_ok(),
        "check and open disagree: {problems:?} / {opened:?}"
    );
    opened
}

fn flip(dir: &Path, file: &str, expected: &BTreeMap<String, i64>) -> FlipReport {
    let len = fs::metadata(dir.join(file)).expect("the file").len() as usize;
    let report = flip_each(dir, file, &offsets(len, 300), open, expected);
    assert!(report.refused > 0, "{file}: {report:?}");
    report
}

/// A state whose snapshot compaction wrote, with entries after it in the journal.
fn compacted_state(dir: &Path) -> BTreeMap<String, i64> {
    let state = DurableState::<Counters>::open_with(dir, NAME, 600).expect("opens");
    for n in 0..40 {
        add(&state, &format!("key{}", n % 5), n);
    }
    assert!(dir.join(SNAPSHOT).exists(), "compaction ran");
    assert!(fs::metadata(dir.join(JOURNAL)).expect("journal").len() > 0);
    state.read(|counters| counters.0.clone())
}

#[test]
fn every_flip_in_a_snapshot_is_refused_at_or_before_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let expected = compacted_state(dir.path());
    flip(dir.path(), SNAPSHOT, &expected);
}

#[test]
fn every_flip_in_a_journal_is_refused_at_or_before_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let expected = compacted_state(dir.path());
    flip(dir.path(), JOURNAL, &expected);
}

#[test]
fn every_flip_in_a_journal_with_leftover_entries_is_refused_at_or_before_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Entries 3 to 5 are in the snapshot already (a crash before the journal was emptied).
    write_snapshot(dir.path(), 2, 5, &counters(&[("a", 15)]));
    write_journal(dir.path(), &entries("a", 3..=9));
    let expected = counters(&[("a", 45)]).0;
    assert_eq!(open(dir.path()), Ok(expected.clone()));
    flip(dir.path(), JOURNAL, &expected);
}

#[test]
fn an_edited_last_seq_in_a_format_1_snapshot_is_caught_by_the_journal() {
    for (last_seq, case) in [(7, "past the journal's end"), (2, "before its start")] {
        let dir = tempfile::tempdir().expect("temp dir");
        // Truly: the snapshot holds entries 1 to 5, the journal holds leftovers 4 and 5, and 6.
        write_snapshot(dir.path(), 1, last_seq, &counters(&[("a", 15)]));
        write_journal(dir.path(), &entries("a", 4..=6));

        let error = open(dir.path()).expect_err(case);

        assert!(
            error.contains(SNAPSHOT) || error.contains(JOURNAL),
            "{case}: {error}"
        );
    }
}

#[test]
fn a_repeated_seq_is_refused_at_its_entry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut journal = entries("a", 1..=3);
    journal.insert(2, journal[1].clone());
    let starts = write_journal(dir.path(), &journal);

    let error = open(dir.path()).expect_err("a repeat");

    assert!(
        error.contains(JOURNAL) && error.contains(&format!("byte {}", starts[2])),
        "{error}"
    );
    assert!(error.contains("entry 2 after entry 2"), "{error}");
}

#[test]
fn damage_inside_a_complete_last_entry_is_refused_not_cut() {
    let dir = tempfile::tempdir().expect("temp dir");
    let starts = write_journal(dir.path(), &entries("a", 1..=3));
    let path = dir.path().join(JOURNAL);
    let mut bytes = fs::read(&path).expect("journal");
    let inside = starts[2] + 12;
    bytes[inside] ^= 0x01;
    fs::write(&path, &bytes).expect("damaged");

    let error = open(dir.path()).expect_err("damage in the last entry");

    assert!(error.contains(&format!("byte {}", starts[2])), "{error}");
    assert_eq!(fs::read(&path).expect("journal"), bytes, "left as it was");
}

#[test]
fn a_snapshot_without_its_journal_is_refused_and_repaired_by_an_empty_journal() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_snapshot(dir.path(), 2, 4, &counters(&[("a", 10)]));

    let error = open(dir.path()).expect_err("no journal");
    let problems = check(dir.path(), NAME);
    let dropped = repair(dir.path(), NAME).expect("repairs");

    assert!(
        error.contains(JOURNAL) && error.contains("missing"),
        "{error}"
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].file.ends_with(JOURNAL), "{problems:?}");
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert!(dropped[0].what.contains("after 4"), "{dropped:?}");
    assert_eq!(open(dir.path()), Ok(counters(&[("a", 10)]).0));
}

#[test]
fn unknown_members_are_refused_in_the_snapshot_and_in_an_entry() {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(
        dir.path().join(SNAPSHOT),
        br#"{"format":1,"last_seq":0,"state":{},"note":"x"}"#,
    )
    .expect("a snapshot");
    fs::write(dir.path().join(JOURNAL), b"").expect("a journal");
    let error = open(dir.path()).expect_err("an unknown snapshot member");
    assert!(
        error.contains(SNAPSHOT) && error.contains("note"),
        "{error}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let mut line = Vec::new();
    crate::storage::journal::encode_line(
        &mut line,
        &serde_json::json!({"seq": 1, "change": ["a", 1], "note": "x"}),
    )
    .expect("encodes");
    fs::write(dir.path().join(JOURNAL), line).expect("a journal");
    let error = open(dir.path()).expect_err("an unknown entry member");
    assert!(
        error.contains(JOURNAL) && error.contains("byte 0"),
        "{error}"
    );
}

#[test]
fn a_damaged_entry_is_reported_then_cut_with_the_entries_after_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let starts = write_journal(dir.path(), &entries("a", 1..=5));
    let path = dir.path().join(JOURNAL);
    let mut bytes = fs::read(&path).expect("journal");
    bytes[starts[2] + 20] ^= 0x04;
    fs::write(&path, &bytes).expect("damaged");

    let problems = check(dir.path(), NAME);
    let dropped = repair(dir.path(), NAME).expect("repairs");

    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].file.ends_with(JOURNAL), "{problems:?}");
    assert_eq!(problems[0].offset, Some(starts[2] as u64), "{problems:?}");
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    let what = &dropped[0].what;
    assert!(
        what.contains(&format!("from byte {}", starts[2])) && what.contains("entries 4 to 5"),
        "{what}"
    );
    assert!(check(dir.path(), NAME).is_empty());
    assert_eq!(open(dir.path()), Ok(counters(&[("a", 3)]).0));
}

#[test]
fn leftover_entries_with_a_gap_are_dropped_keeping_the_entries_after_the_snapshot() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Entry 5 never reached the journal before a snapshot holding it was written (as an older
    // compaction could leave it), then 6 and 7 were appended.
    write_snapshot(dir.path(), 2, 5, &counters(&[("a", 15)]));
    let mut journal = entries("a", 3..=4);
    journal.extend(entries("a", 6..=7));
    let starts = write_journal(dir.path(), &journal);

    let problems = check(dir.path(), NAME);
    let dropped = repair(dir.path(), NAME).expect("repairs");

    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].offset, Some(starts[2] as u64), "{problems:?}");
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert!(
        dropped[0].what.contains("entries 3 to 4") && dropped[0].what.contains("snapshot"),
        "{dropped:?}"
    );
    assert_eq!(open(dir.path()), Ok(counters(&[("a", 28)]).0));
}

#[test]
fn a_check_lists_later_damage_and_a_repair_names_it_in_the_journal_as_it_was() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_snapshot(dir.path(), 2, 5, &counters(&[("a", 15)]));
    let mut journal = entries("a", 3..=4);
    journal.extend(entries("a", 6..=9));
    let starts = write_journal(dir.path(), &journal);
    let path = dir.path().join(JOURNAL);
    let mut bytes = fs::read(&path).expect("journal");
    bytes[starts[4] + 20] ^= 0x04;
    fs::write(&path, &bytes).expect("damaged");

    let problems = check(dir.path(), NAME);
    let dropped = repair(dir.path(), NAME).expect("repairs");

    let offsets: Vec<_> = problems.iter().map(|problem| problem.offset).collect();
    assert_eq!(
        offsets,
        vec![Some(starts[2] as u64), Some(starts[4] as u64)],
        "{problems:?}"
    );
    let what: Vec<_> = dropped
        .iter()
        .map(|dropped| dropped.what.as_str())
        .collect();
    assert_eq!(what.len(), 2, "{what:?}");
    assert!(what[0].contains("from byte 0: entries 3 to 4"), "{what:?}");
    assert!(
        what[1].contains(&format!("from byte {}: entry 8 (damaged", starts[4]))
            && what[1].ends_with("entry 9"),
        "{what:?}"
    );
    assert_eq!(open(dir.path()), Ok(counters(&[("a", 28)]).0));
}

#[test]
fn leftover_entries_that_stop_short_are_dropped() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_snapshot(dir.path(), 2, 5, &counters(&[("a", 15)]));
    write_journal(dir.path(), &entries("a", 3..=4));

    let problems = check(dir.path(), NAME);
    let dropped = repair(dir.path(), NAME).expect("repairs");

    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].reason.contains("stop at 4"), "{problems:?}");
    assert!(dropped[0].what.contains("entries 3 to 4"), "{dropped:?}");
    assert_eq!(open(dir.path()), Ok(counters(&[("a", 15)]).0));
}

#[test]
fn a_damaged_snapshot_is_reported_and_left_by_a_repair() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_snapshot(dir.path(), 2, 2, &counters(&[("a", 3)]));
    write_journal(dir.path(), &entries("a", 3..=4));
    let path = dir.path().join(SNAPSHOT);
    let mut bytes = fs::read(&path).expect("snapshot");
    bytes[30] ^= 0x02;
    fs::write(&path, &bytes).expect("damaged");
    let journal = fs::read(dir.path().join(JOURNAL)).expect("journal");

    let problems = check(dir.path(), NAME);
    let dropped = repair(dir.path(), NAME).expect("repairs what it can");

    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].offset, Some(0));
    assert!(problems[0].reason.contains("backup"), "{problems:?}");
    assert!(dropped.is_empty(), "{dropped:?}");
    assert_eq!(fs::read(&path).expect("snapshot"), bytes, "left as it was");
    assert_eq!(
        fs::read(dir.path().join(JOURNAL)).expect("journal"),
        journal
    );
    assert_eq!(check(dir.path(), NAME), problems, "still reported");
    assert!(matches!(
        DurableState::<Counters>::open(dir.path(), NAME).err(),
        Some(DurableStateError::SnapshotDamaged { offset: 0, .. })
    ));
}

#[test]
fn a_repair_of_a_state_in_use_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _state = DurableState::<Counters>::open(dir.path(), NAME).expect("opens");

    assert!(repair(dir.path(), NAME).is_err());
}
