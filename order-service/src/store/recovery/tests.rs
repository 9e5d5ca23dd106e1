//! Opening damaged or inconsistent files: every trial opens with exactly what was acknowledged,
//! or is refused with the file and the byte offset, changing nothing.

use std::fs;
use std::path::{Path, PathBuf};

use shared_events::storage::journal::Journal;
use test_support::damage::{copy_dir, flip_each, offsets};

use crate::domain::ChangeOrigin;
use crate::store::files::segment_name;
use crate::store::fixtures::{Contents, layered_store, open_contents, single_segment_store};
use crate::store::recovery::ignore;

/// Flips per file: enough to cover every kind of byte of these small files.
const FLIPS_PER_FILE: usize = 200;

fn segment(dir: &Path, number: u64) -> PathBuf {
    dir.join(segment_name(number))
}

/// The lines of a journal, each with its offset and its newline.
fn lines(bytes: &[u8]) -> Vec<(usize, &[u8])> {
    let mut start = 0;
    let mut lines = Vec::new();
    for line in bytes.split_inclusive(|byte| *byte == b'\n') {
        lines.push((start, line));
        start += line.len();
    }
    lines
}

/// Every file of `dir` and its content, to show that a refusal changed nothing.
fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .expect("lists")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.is_file() && path.file_name().is_some_and(|name| name != ".lock"))
        .map(|path| {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (name, fs::read(&path).expect("reads"))
        })
        .collect();
    files.sort();
    files
}

/// Opens `dir`, which must be refused naming `file` and saying `byte <at>` when given; returns
/// the message. The files are left exactly as they were.
fn assert_refused(dir: &Path, file: &str, at: Option<u64>) -> String {
    let before = listing(dir);
    let message = open_contents(dir).expect_err("refused");
    assert!(message.contains(file), "names {file}: {message}");
    if let Some(at) = at {
        assert!(
            message.contains(&format!("byte {at}:")),
            "says byte {at}: {message}"
        );
    }
    assert_eq!(listing(dir), before, "a refusal changes nothing: {message}");
    message
}

/// Rewrites `orders.json` as the format written before checksums.
fn to_format_1(dir: &Path) {
    let path = dir.join("orders.json");
    let text = fs::read_to_string(&path).expect("snapshot");
    let body = &text[..text.rfind(",\"crc32c\"").expect("sealed")];
    let old = format!(
        "{}}}\n",
        body.replacen("{\"format\":2,", "{\"format\":1,", 1)
    );
    fs::write(&path, old).expect("rewritten");
}

fn edit_snapshot(dir: &Path, from: &str, to: &str) {
    let path = dir.join("orders.json");
    let text = fs::read_to_string(&path).expect("snapshot");
    assert!(text.contains(from), "{from} in the snapshot");
    fs::write(&path, text.replacen(from, to, 1)).expect("edited");
}

fn snapshot_number(dir: &Path, name: &str) -> u64 {
    let value: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("orders.json")).expect("snapshot"))
            .expect("JSON");
    value[name].as_u64().expect("a number")
}

fn copy_of(dir: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("temp dir");
    copy_dir(dir, copy.path());
    copy
}

#[tokio::test]
async fn the_layered_store_opens_with_everything_it_acknowledged() {
    let (dir, expected) = layered_store().await;
    let names: Vec<String> = listing(dir.path())
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        names,
        [
            "orders-journal-000002.jsonl",
            "orders-journal-000003.jsonl",
            "orders-journal-000004.jsonl",
            "orders.json"
        ]
    );
    for older in [2, 3] {
        let recovered =
            Journal::check(&segment(dir.path(), older), false, ignore).expect("an intact segment");
        assert_eq!(
            recovered.sealed,
            Some(segment_name(older + 1)),
            "a rolled segment is sealed toward the next"
        );
    }
    assert!(!expected.idempotency.is_empty() && !expected.outbox.is_empty());
    assert_eq!(open_contents(dir.path()), Ok(expected));
}

#[tokio::test]
async fn every_flipped_byte_opens_with_the_acknowledged_data_or_is_refused_with_file_and_offset() {
    let (dir, expected) = layered_store().await;
    let open = |dir: &Path| open_contents(dir);
    let mut cases: Vec<(String, Vec<usize>)> = Vec::new();
    for file in [
        "orders.json".to_owned(),
        segment_name(2),
        segment_name(3),
        segment_name(4),
    ] {
        let len = fs::metadata(dir.path().join(&file)).expect("file").len() as usize;
        cases.push((file, offsets(len, FLIPS_PER_FILE)));
    }
    // The records that carry an idempotency key, their bytes spread the same way.
    for number in [3, 4] {
        let bytes = fs::read(segment(dir.path(), number)).expect("segment");
        let keyed: Vec<usize> = lines(&bytes)
            .into_iter()
            .filter(|(_, line)| line.windows(16).any(|w| w == b"\"idempotency\":{\""))
            .flat_map(|(start, line)| start..start + line.len())
            .collect();
        assert!(!keyed.is_empty(), "segment {number} has keyed records");
        let spread = offsets(keyed.len(), FLIPS_PER_FILE)
            .into_iter()
            .map(|index| keyed[index])
            .collect();
        cases.push((segment_name(number), spread));
    }
    for (file, offsets) in &cases {
        let report = flip_each(dir.path(), file, offsets, open, &expected);
        eprintln!(
            "{file}: {} flips, {} opened with the acknowledged data, {} refused",
            offsets.len(),
            report.opened,
            report.refused
        );
        assert_eq!(report.opened + report.refused, offsets.len());
    }
}

#[tokio::test]
async fn an_edited_next_segment_is_refused_with_or_without_a_checksum() {
    let (dir, _) = layered_store().await;
    let next = snapshot_number(dir.path(), "next_segment");
    assert_eq!(next, 2);
    // Format 2: the checksum no longer matches.
    let sealed = copy_of(dir.path());
    edit_snapshot(sealed.path(), "\"next_segment\":2,", "\"next_segment\":3,");
    assert_refused(sealed.path(), "orders.json", Some(0));

    // Format 1 has no checksum: the journal shows the number is wrong. Segment 2 would be
    // taken as held by the snapshot, and removed.
    let higher = copy_of(dir.path());
    to_format_1(higher.path());
    edit_snapshot(higher.path(), "\"next_segment\":2,", "\"next_segment\":3,");
    let message = assert_refused(higher.path(), &segment_name(2), Some(0));
    assert!(
        message.contains("after the snapshot's last record"),
        "{message}"
    );

    // Segment 1, which it would start from, is gone.
    let lower = copy_of(dir.path());
    to_format_1(lower.path());
    edit_snapshot(lower.path(), "\"next_segment\":2,", "\"next_segment\":1,");
    let message = assert_refused(lower.path(), &segment_name(1), None);
    assert!(message.contains("missing"), "{message}");

    // Unedited, the format 1 snapshot opens.
    let unedited = copy_of(dir.path());
    to_format_1(unedited.path());
    open_contents(unedited.path()).expect("a format 1 snapshot opens");
}

#[tokio::test]
async fn an_edited_last_seq_is_refused_with_or_without_a_checksum() {
    let (dir, _) = layered_store().await;
    let last_seq = snapshot_number(dir.path(), "last_seq");
    let field = format!("\"last_seq\":{last_seq},");
    for edited in [last_seq + 1, last_seq - 1, last_seq + 100] {
        let to = format!("\"last_seq\":{edited},");
        let sealed = copy_of(dir.path());
        edit_snapshot(sealed.path(), &field, &to);
        assert_refused(sealed.path(), "orders.json", Some(0));

        // Without a checksum: the first record after the snapshot does not follow it (or the
        // snapshot's own outbox says otherwise).
        let old = copy_of(dir.path());
        to_format_1(old.path());
        edit_snapshot(old.path(), &field, &to);
        let message = assert_refused(old.path(), "orders", None);
        let journal_disagrees = message.contains(&segment_name(2))
            && message.contains("byte 0:")
            && message.contains("missing or repeated");
        let snapshot_disagrees = message.contains("orders.json") && message.contains("record");
        assert!(
            journal_disagrees || snapshot_disagrees,
            "last_seq {edited}: {message}"
        );
    }
}

#[tokio::test]
async fn a_repeated_record_is_refused_where_it_repeats() {
    let (dir, _) = single_segment_store(5).await;
    let path = segment(dir.path(), 1);
    let bytes = fs::read(&path).expect("segment");
    let lines = lines(&bytes);
    let (third, line) = lines[2];
    let repeat_at = third + line.len();
    let mut repeated = bytes[..repeat_at].to_vec();
    repeated.extend_from_slice(line);
    repeated.extend_from_slice(&bytes[repeat_at..]);
    fs::write(&path, &repeated).expect("repeated");
    let message = assert_refused(dir.path(), &segment_name(1), Some(repeat_at as u64));
    assert!(
        message.contains("record 3 comes where record 4 is due"),
        "{message}"
    );
}

#[tokio::test]
async fn damage_in_a_whole_last_record_is_refused_but_a_lost_newline_is_not() {
    let (dir, expected) = single_segment_store(3).await;
    let path = segment(dir.path(), 1);
    let bytes = fs::read(&path).expect("segment");
    let (last, line) = *lines(&bytes).last().expect("lines");

    let damaged = copy_of(dir.path());
    let mut flipped = bytes.clone();
    flipped[last + line.len() / 2] ^= 0x01;
    fs::write(segment(damaged.path(), 1), &flipped).expect("damaged");
    assert_refused(damaged.path(), &segment_name(1), Some(last as u64));

    let no_newline = copy_of(dir.path());
    fs::write(segment(no_newline.path(), 1), &bytes[..bytes.len() - 1]).expect("cut");
    assert_eq!(open_contents(no_newline.path()), Ok(expected.clone()));

    let torn = copy_of(dir.path());
    fs::write(segment(torn.path(), 1), &bytes[..bytes.len() - 2]).expect("cut");
    let opened = open_contents(torn.path()).expect("an unfinished record is cut");
    assert_eq!(opened.last_seq, expected.last_seq - 1);
}

#[tokio::test]
async fn a_missing_newest_segment_is_refused() {
    let (dir, _) = layered_store().await;
    let newest = segment(dir.path(), 4);
    fs::remove_file(&newest).expect("removed");
    let seal_at = fs::read(segment(dir.path(), 3))
        .map(|bytes| lines(&bytes).last().expect("lines").0)
        .expect("segment 3");
    let message = assert_refused(dir.path(), &segment_name(3), Some(seal_at as u64));
    assert!(message.contains(&segment_name(4)), "{message}");
}

#[tokio::test]
async fn a_missing_middle_or_first_segment_is_refused() {
    let (dir, _) = layered_store().await;
    for number in [3, 2] {
        let copy = copy_of(dir.path());
        fs::remove_file(segment(copy.path(), number)).expect("removed");
        let message = assert_refused(copy.path(), &segment_name(number), None);
        assert!(message.contains("missing"), "{message}");
    }
}

#[tokio::test]
async fn a_segment_that_lost_its_seal_is_refused() {
    let (dir, _) = layered_store().await;
    let path = segment(dir.path(), 2);
    let bytes = fs::read(&path).expect("segment");
    let (seal, _) = *lines(&bytes).last().expect("lines");
    fs::write(&path, &bytes[..seal]).expect("seal cut");
    let message = assert_refused(dir.path(), &segment_name(2), Some(seal as u64));
    assert!(message.contains("seal mark"), "{message}");
}

#[tokio::test]
async fn a_crash_between_creating_a_segment_and_sealing_the_last_is_finished_at_open() {
    let (dir, expected) = layered_store().await;
    let newest = segment(dir.path(), 4);
    let bytes = fs::read(&newest).expect("segment");
    let mut seal = Vec::new();
    // A whole seal mark to cut in half: what a crash while sealing leaves.
    {
        let scratch = tempfile::tempdir().expect("temp dir");
        let path = scratch.path().join("j.jsonl");
        let (mut journal, _) = Journal::open(&path, true, ignore).expect("opens");
        journal.seal(&segment_name(5)).expect("seals");
        seal.extend(fs::read(&path).expect("mark"));
    }
    for torn_seal in [0, seal.len() / 2] {
        let copy = copy_of(dir.path());
        let mut unsealed = bytes.clone();
        unsealed.extend_from_slice(&seal[..torn_seal]);
        fs::write(segment(copy.path(), 4), &unsealed).expect("unfinished seal");
        fs::write(segment(copy.path(), 5), b"").expect("an empty newest segment");

        assert_eq!(open_contents(copy.path()), Ok(expected.clone()));
        let recovered =
            Journal::check(&segment(copy.path(), 4), false, ignore).expect("intact now");
        assert_eq!(recovered.sealed, Some(segment_name(5)), "sealed at open");
        assert_eq!(
            open_contents(copy.path()),
            Ok(expected.clone()),
            "and again"
        );
    }
}

#[tokio::test]
async fn segments_a_stopped_compaction_left_are_removed_only_once_verified() {
    let (dir, expected) = layered_store().await;
    let kept: Vec<(u64, Vec<u8>)> = [2, 3, 4]
        .into_iter()
        .map(|number| {
            (
                number,
                fs::read(segment(dir.path(), number)).expect("segment"),
            )
        })
        .collect();
    // A compaction that succeeds: orders.json now holds segments 2 to 4.
    let store = crate::store::OrderStore::open(dir.path(), crate::store::fixtures::options())
        .expect("opens");
    let mut n = 0;
    while !segment(dir.path(), 5).exists() {
        n += 1;
        store
            .create(
                crate::store::fixtures::new_order(&format!("More {n}")),
                None,
                ChangeOrigin::default(),
            )
            .await
            .expect("create");
    }
    store.finish_compaction().await;
    let expected_now = store.contents();
    store.shutdown().await;
    assert!(expected_now.last_seq > expected.last_seq);
    assert_eq!(snapshot_number(dir.path(), "next_segment"), 5);

    // As if the compaction had stopped before removing them: sealed segments 2 and 3 go.
    let sealed = copy_of(dir.path());
    for (number, bytes) in &kept[..2] {
        fs::write(segment(sealed.path(), *number), bytes).expect("put back");
    }
    assert_eq!(open_contents(sealed.path()), Ok(expected_now.clone()));
    assert!(!segment(sealed.path(), 2).exists() && !segment(sealed.path(), 3).exists());

    // Segment 4 as it was before it was sealed cannot show the snapshot holds it.
    let unsealed = copy_of(dir.path());
    let (number, bytes) = &kept[2];
    fs::write(segment(unsealed.path(), *number), bytes).expect("put back");
    let message = assert_refused(unsealed.path(), &segment_name(4), Some(bytes.len() as u64));
    assert!(message.contains("not sealed"), "{message}");
}

#[tokio::test]
async fn segments_written_before_checksums_still_open_and_take_new_records() {
    let (dir, expected) = single_segment_store(6).await;
    let bytes = fs::read(segment(dir.path(), 1)).expect("segment");
    let unchecked: Vec<Vec<u8>> = lines(&bytes)
        .into_iter()
        .map(|(_, line)| {
            let text = std::str::from_utf8(line).expect("text");
            let cut = text.rfind(",\"crc32c\"").expect("checksummed");
            format!("{}}}\n", &text[..cut]).into_bytes()
        })
        .collect();
    // Two segments of an older build: neither checksummed nor sealed.
    fs::write(segment(dir.path(), 1), unchecked[..3].concat()).expect("old segment 1");
    fs::write(segment(dir.path(), 2), unchecked[3..].concat()).expect("old segment 2");
    assert_eq!(open_contents(dir.path()), Ok(expected.clone()));

    let store = crate::store::OrderStore::open(dir.path(), crate::store::fixtures::options())
        .expect("opens");
    store
        .create(
            crate::store::fixtures::new_order("Newer"),
            None,
            ChangeOrigin::default(),
        )
        .await
        .expect("create");
    let now = store.contents();
    store.shutdown().await;
    assert_eq!(now.last_seq, expected.last_seq + 1);
    assert_eq!(open_contents(dir.path()), Ok(now));
}

#[tokio::test]
async fn a_format_1_snapshot_opens_and_the_next_compaction_writes_format_2() {
    let (dir, expected) = layered_store().await;
    to_format_1(dir.path());
    assert_eq!(open_contents(dir.path()), Ok(expected));
    let store = crate::store::OrderStore::open(dir.path(), crate::store::fixtures::options())
        .expect("opens");
    let mut n = 0;
    while !segment(dir.path(), 5).exists() {
        n += 1;
        store
            .create(
                crate::store::fixtures::new_order(&format!("More {n}")),
                None,
                ChangeOrigin::default(),
            )
            .await
            .expect("create");
    }
    store.finish_compaction().await;
    let now: Contents = store.contents();
    store.shutdown().await;
    assert_eq!(snapshot_number(dir.path(), "format"), 2);
    assert_eq!(open_contents(dir.path()), Ok(now));
}
