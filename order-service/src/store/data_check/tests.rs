//! `check` lists every problem with its file and offset and changes nothing; `repair` drops
//! exactly the damaged part, says so, and leaves a store that checks clean and opens.

use std::fs;
use std::path::{Path, PathBuf};

use shared_events::storage::data_check::Dropped;

use crate::store::files::segment_name;
use crate::store::fixtures::{layered_store, open_contents, options, single_segment_store};
use crate::store::{OrderStore, check, repair};

fn segment(dir: &Path, number: u64) -> PathBuf {
    dir.join(segment_name(number))
}

/// The offset of each line of a journal, and the line.
fn lines(bytes: &[u8]) -> Vec<(usize, &[u8])> {
    let mut start = 0;
    let mut lines = Vec::new();
    for line in bytes.split_inclusive(|byte| *byte == b'\n') {
        lines.push((start, line));
        start += line.len();
    }
    lines
}

/// Changes a letter of the customer's name in the first order record from line `index` of
/// segment `number` (the record stays JSON, only its checksum tells); returns the line's
/// offset, and its record's seq and order id.
fn damage_line(dir: &Path, number: u64, index: usize) -> (u64, u64, String) {
    let path = segment(dir, number);
    let mut bytes = fs::read(&path).expect("segment");
    let (start, line) = lines(&bytes)
        .into_iter()
        .skip(index)
        .find(|(_, line)| line.windows(16).any(|w| w == b"\"customer_name\":"))
        .expect("an order record");
    let record: serde_json::Value = serde_json::from_slice(line).expect("a record");
    let seq = record["seq"].as_u64().expect("seq");
    let order = record["event"]["subject"]
        .as_str()
        .expect("order")
        .to_owned();
    let name = line
        .windows(17)
        .position(|w| w == b"\"customer_name\":\"")
        .expect("a name");
    bytes[start + name + 18] ^= 0x02;
    fs::write(&path, &bytes).expect("damaged");
    (start as u64, seq, order)
}

fn assert_clean_and_opens(dir: &Path) -> u64 {
    assert_eq!(check(dir), Vec::new(), "clean after the repair");
    open_contents(dir).expect("opens after the repair").last_seq
}

fn files_of(dropped: &[Dropped]) -> Vec<String> {
    dropped
        .iter()
        .map(|dropped| {
            dropped
                .file
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_sound_store_checks_clean_and_repairs_to_nothing() {
    let (dir, expected) = layered_store().await;
    assert_eq!(check(dir.path()), Vec::new());
    assert_eq!(repair(dir.path()).expect("repairs"), Vec::new());
    assert_eq!(open_contents(dir.path()), Ok(expected));
}

#[tokio::test]
async fn check_lists_every_problem_with_its_file_and_offset_and_changes_nothing() {
    let (dir, _) = layered_store().await;
    let (first, _, _) = damage_line(dir.path(), 2, 1);
    let (second, _, _) = damage_line(dir.path(), 4, 2);
    fs::write(dir.path().join("orders.json"), b"{\"format\":2,").expect("damaged snapshot");
    let before: Vec<Vec<u8>> = [2, 3, 4]
        .iter()
        .map(|number| fs::read(segment(dir.path(), *number)).expect("segment"))
        .collect();

    let problems = check(dir.path());

    let places: Vec<(String, Option<u64>)> = problems
        .iter()
        .map(|problem| {
            let name = problem.file.file_name().expect("name").to_string_lossy();
            (name.into_owned(), problem.offset)
        })
        .collect();
    assert_eq!(
        places,
        [
            ("orders.json".to_owned(), Some(0)),
            (segment_name(2), Some(first)),
            (segment_name(4), Some(second)),
        ],
        "{problems:?}"
    );
    for problem in &problems {
        assert!(problem.to_string().contains(" at byte "), "{problem}");
    }
    let after: Vec<Vec<u8>> = [2, 3, 4]
        .iter()
        .map(|number| fs::read(segment(dir.path(), *number)).expect("segment"))
        .collect();
    assert_eq!(before, after, "a check changes nothing");
}

#[tokio::test]
async fn repair_replaces_a_damaged_record_by_an_empty_one_and_keeps_every_record_after_it() {
    let (dir, expected) = layered_store().await;
    let (offset, seq, order) = damage_line(dir.path(), 3, 2);
    let problems = check(dir.path());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].offset, Some(offset));

    let dropped = repair(dir.path()).expect("repairs");

    assert_eq!(files_of(&dropped), [segment_name(3)], "{dropped:?}");
    let what = &dropped[0].what;
    assert!(
        what.contains(&format!("from byte {offset}: record {seq} (")),
        "{what}"
    );
    assert!(what.contains("its checksum does not match"), "{what}");
    assert!(what.contains(&order), "names the order: {what}");
    assert!(what.contains("every record after them is kept"), "{what}");
    assert!(segment(dir.path(), 4).exists(), "the later segment stays");
    assert_eq!(assert_clean_and_opens(dir.path()), expected.last_seq);
}

#[tokio::test]
async fn repair_cuts_the_journal_at_damage_that_no_intact_record_follows() {
    let (dir, expected) = layered_store().await;
    let path = segment(dir.path(), 4);
    let mut bytes = fs::read(&path).expect("segment");
    let body_len = bytes.len() - 1;
    let last = bytes[..body_len]
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(0, |n| n + 1);
    // A digit of the last record's checksum: the record still reads, but does not verify.
    bytes[body_len - 5] ^= 0x01;
    fs::write(&path, &bytes).expect("damaged");
    assert_eq!(check(dir.path())[0].offset, Some(last as u64));

    let dropped = repair(dir.path()).expect("repairs");

    assert_eq!(files_of(&dropped), [segment_name(4)], "{dropped:?}");
    let cut = &dropped[0].what;
    assert!(
        cut.starts_with(&format!(
            "{} bytes from byte {last}: record {} (",
            bytes.len() - last,
            expected.last_seq
        )),
        "{cut}"
    );
    assert!(cut.contains("its checksum does not match"), "{cut}");
    assert_eq!(assert_clean_and_opens(dir.path()), expected.last_seq - 1);
}

#[tokio::test]
async fn repair_refuses_while_the_store_is_open() {
    let (dir, _) = single_segment_store(2).await;
    let store = OrderStore::open(dir.path(), options()).expect("opens");
    let error = repair(dir.path()).expect_err("the store holds the directory");
    assert!(format!("{error:#}").contains("in use"), "{error:#}");
    store.shutdown().await;
}

#[tokio::test]
async fn repair_adds_a_missing_seal_when_the_next_segment_is_there() {
    let (dir, expected) = layered_store().await;
    let path = segment(dir.path(), 2);
    let bytes = fs::read(&path).expect("segment");
    let (seal, _) = *lines(&bytes).last().expect("lines");
    fs::write(&path, &bytes[..seal]).expect("seal cut");
    assert_eq!(check(dir.path())[0].offset, Some(seal as u64));

    let dropped = repair(dir.path()).expect("repairs");

    assert_eq!(files_of(&dropped), [segment_name(2)]);
    assert!(dropped[0].what.starts_with("no record"), "{dropped:?}");
    assert_clean_and_opens(dir.path());
    assert_eq!(open_contents(dir.path()), Ok(expected));
}

#[tokio::test]
async fn repair_replaces_a_missing_newest_or_middle_segment_with_an_empty_one() {
    let (dir, _) = layered_store().await;
    for missing in [4, 3] {
        let copy = tempfile::tempdir().expect("temp dir");
        test_support::damage::copy_dir(dir.path(), copy.path());
        fs::remove_file(segment(copy.path(), missing)).expect("removed");
        let last_before = {
            let bytes = fs::read(segment(copy.path(), missing - 1)).expect("segment");
            let records = lines(&bytes);
            let (_, line) = records[records.len() - 2];
            let record: serde_json::Value = serde_json::from_slice(line).expect("record");
            record["seq"].as_u64().expect("seq")
        };

        let dropped = repair(copy.path()).expect("repairs");

        let mut expected_files = vec![segment_name(missing)];
        if missing == 3 {
            expected_files.insert(0, segment_name(4));
        }
        assert_eq!(files_of(&dropped), expected_files, "{dropped:?}");
        let replaced = &dropped.last().expect("the missing segment").what;
        assert!(
            replaced.contains(&format!("records after record {last_before}")),
            "{replaced}"
        );
        assert_eq!(assert_clean_and_opens(copy.path()), last_before);
    }
}

#[tokio::test]
async fn a_damaged_snapshot_is_dropped_only_when_the_journal_holds_everything() {
    let (dir, expected) = single_segment_store(4).await;
    fs::write(
        dir.path().join("orders.json"),
        b"{\"format\":2,\"last_seq\":",
    )
    .expect("damaged");
    let dropped = repair(dir.path()).expect("repairs");
    assert_eq!(files_of(&dropped), ["orders.json"]);
    assert_eq!(open_contents(dir.path()), Ok(expected));

    let (dir, _) = layered_store().await;
    let snapshot = dir.path().join("orders.json");
    let mut bytes = fs::read(&snapshot).expect("snapshot");
    bytes[40] ^= 0x01;
    fs::write(&snapshot, &bytes).expect("damaged");
    let error = repair(dir.path()).expect_err("nothing can replace it");
    assert!(format!("{error:#}").contains("backup"), "{error:#}");
    assert_eq!(fs::read(&snapshot).expect("kept"), bytes, "left as it was");
}
