//! `orders.json`: every order as of one journal position, written whole and atomically, sealed
//! with its CRC32C.
//!
//! Format 2 ends its one JSON object with a `"crc32c"` member covering every byte before it
//! ([`shared_events::storage::checksum`]); it opens only when that checksum matches. Format 1,
//! written before checksums, has none and still opens; the next compaction writes format 2. A
//! file whose format and checksum disagree is refused, never read as the other kind.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::IgnoredAny;
use shared_events::Order;
use shared_events::storage::atomic_file::write_atomically;
use shared_events::storage::checksum::{Seal, SealingWriter, check_object};
use shared_events::storage::data_check::Problem;

use crate::store::record::{IdempotencyEntry, PendingEvent};
use crate::store::state::StoreState;

/// The snapshot format this build writes.
const FORMAT: u32 = 2;
/// The format written before snapshots carried a checksum; still read.
const UNSEALED_FORMAT: u32 = 1;
/// How a format 1 snapshot starts (this store always wrote `format` first).
const UNSEALED_HEAD: &[u8] = b"{\"format\":1,";

/// What a snapshot holds besides the state: the first journal segment not folded into it.
#[derive(Debug)]
pub(crate) struct LoadedSnapshot {
    pub(crate) state: StoreState,
    pub(crate) next_segment: u64,
    pub(crate) bytes: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotFile {
    format: u32,
    last_seq: u64,
    next_segment: u64,
    orders: Vec<Order>,
    idempotency: Vec<IdempotencyEntry>,
    #[serde(default)]
    published_through: u64,
    #[serde(default)]
    outbox: Vec<PendingEvent>,
    /// Checked on the raw bytes before parsing; named here only so that it is a known member.
    #[serde(default, rename = "crc32c")]
    _checksum: Option<IgnoredAny>,
}

/// Writes `state` as the snapshot at `path`, covering the journal up to `next_segment`
/// (exclusive). Streams order by order, so no second copy of the store is built in memory.
pub(crate) fn write_snapshot(
    path: &Path,
    state: &StoreState,
    next_segment: u64,
) -> io::Result<u64> {
    write_atomically(path, |out| {
        // serde writes many small pieces; the checksum is computed over 64 KiB chunks instead.
        let mut object = BufWriter::with_capacity(1 << 16, SealingWriter::new(&mut *out));
        write_object_body(&mut object, state, next_segment)?;
        object
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .finish()?;
        out.write_all(b"\n")
    })?;
    Ok(fs::metadata(path)?.len())
}

/// The snapshot's object without its closing brace, which the seal writes.
fn write_object_body(
    out: &mut impl Write,
    state: &StoreState,
    next_segment: u64,
) -> io::Result<()> {
    write!(
        out,
        "{{\"format\":{FORMAT},\"last_seq\":{},\"next_segment\":{next_segment},",
        state.last_seq
    )?;
    out.write_all(b"\"orders\":[")?;
    for (index, order) in state.orders.values().enumerate() {
        if index > 0 {
            out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut *out, order.as_ref())?;
    }
    out.write_all(b"],\n\"idempotency\":[")?;
    for (index, entry) in state.idempotency.values().enumerate() {
        if index > 0 {
            out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut *out, entry.as_ref())?;
    }
    write!(
        out,
        "],\n\"published_through\":{},\n\"outbox\":[",
        state.published_through
    )?;
    for (index, pending) in state.pending_events(0, usize::MAX).iter().enumerate() {
        if index > 0 {
            out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut *out, pending)?;
    }
    out.write_all(b"]")
}

/// Reads the snapshot at `path`, if there is one. A snapshot that cannot be trusted is a
/// [`Problem`] naming the file and, where one place is to blame, the byte offset.
pub(crate) fn read_snapshot(path: &Path) -> Result<Option<LoadedSnapshot>, Problem> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(Problem::whole(
                path,
                format!("the snapshot cannot be read: {error}"),
            ));
        }
    };
    let object = bytes.trim_ascii_end();
    let seal = check_object(object);
    if seal == Seal::Mismatch {
        return Err(Problem::at(
            path,
            0,
            "the snapshot does not match its checksum (crc32c): it changed after it was written",
        ));
    }
    let file = parse(object, seal).map_err(|(offset, reason)| Problem::at(path, offset, reason))?;
    format_matches_seal(file.format, seal).map_err(|reason| Problem::at(path, 0, reason))?;
    let loaded = LoadedSnapshot {
        next_segment: file.next_segment,
        bytes: bytes.len() as u64,
        state: state_of(file),
    };
    check_consistency(&loaded).map_err(|reason| Problem::whole(path, reason))?;
    Ok(Some(loaded))
}

/// Parses the snapshot's object; on failure, the offset to blame and why.
fn parse(object: &[u8], seal: Seal) -> Result<SnapshotFile, (u64, String)> {
    serde_json::from_slice(object).map_err(|error| {
        if seal == Seal::Missing && !object.starts_with(UNSEALED_HEAD) {
            // Not a format 1 file and no valid checksum: a sealed snapshot whose end, where the
            // checksum is, was damaged, wherever the parser happened to stop.
            let reason = format!(
                "the snapshot has no valid checksum and is not a format {UNSEALED_FORMAT} \
                 snapshot either: {error}"
            );
            (0, reason)
        } else {
            let reason = format!("the snapshot is not readable: {error}");
            (parse_offset(object, &error), reason)
        }
    })
}

/// Format 2 must carry a matching checksum, format 1 none: never is one read as the other.
fn format_matches_seal(format: u32, seal: Seal) -> Result<(), String> {
    match (format, seal) {
        (FORMAT, Seal::Verified) | (UNSEALED_FORMAT, Seal::Missing) => Ok(()),
        (FORMAT, _) => Err(format!(
            "the snapshot is format {FORMAT} but has no checksum"
        )),
        (UNSEALED_FORMAT, _) => Err(format!(
            "the snapshot is format {UNSEALED_FORMAT}, which has no checksum, but carries one"
        )),
        (other, _) => Err(format!(
            "the snapshot has format {other}; this build reads formats {UNSEALED_FORMAT} and \
             {FORMAT}"
        )),
    }
}

fn state_of(file: SnapshotFile) -> StoreState {
    let mut state = StoreState {
        last_seq: file.last_seq,
        published_through: file.published_through,
        outbox: file
            .outbox
            .into_iter()
            .map(|pending| (pending.seq, pending.event))
            .collect(),
        ..StoreState::default()
    };
    state.orders = file
        .orders
        .into_iter()
        .map(|order| (order.order_id, Arc::new(order)))
        .collect();
    state.idempotency = file
        .idempotency
        .into_iter()
        .map(|entry| (entry.key.clone(), Arc::new(entry)))
        .collect();
    state
}

/// What a snapshot says about itself must add up: a format 1 file has no checksum, so these
/// are all that stands between an edited number and a store that skips or repeats records.
fn check_consistency(loaded: &LoadedSnapshot) -> Result<(), String> {
    let state = &loaded.state;
    if loaded.next_segment == 0 {
        return Err("the snapshot names segment 0 as the next; segments count from 1".to_owned());
    }
    if state.published_through > state.last_seq {
        return Err(format!(
            "the snapshot says events up to record {} are published, but it ends at record {}",
            state.published_through, state.last_seq
        ));
    }
    if let Some((seq, _)) = state
        .outbox
        .iter()
        .find(|(seq, _)| **seq <= state.published_through || **seq > state.last_seq)
    {
        return Err(format!(
            "the snapshot's outbox holds record {seq}, outside its unpublished records {} to {}",
            state.published_through + 1,
            state.last_seq
        ));
    }
    Ok(())
}

/// The byte offset `serde_json` stopped at, from its line and (1-based) column.
fn parse_offset(bytes: &[u8], error: &serde_json::Error) -> u64 {
    let line_start = match error.line() {
        0 | 1 => 0,
        line => bytes
            .iter()
            .enumerate()
            .filter(|(_, byte)| **byte == b'\n')
            .nth(line - 2)
            .map_or(bytes.len(), |(newline, _)| newline + 1),
    };
    (line_start + error.column().saturating_sub(1)).min(bytes.len()) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(last_seq: u64) -> StoreState {
        StoreState {
            last_seq,
            ..StoreState::default()
        }
    }

    fn written(state: &StoreState) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("orders.json");
        write_snapshot(&path, state, 3).expect("writes");
        (dir, path)
    }

    fn refusal(path: &Path) -> Problem {
        read_snapshot(path).expect_err("refused")
    }

    #[test]
    fn a_written_snapshot_is_sealed_json_and_reads_back() {
        let (_dir, path) = written(&state(7));
        let bytes = fs::read(&path).expect("read");
        let value: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(value["format"], 2);
        assert!(value["crc32c"].is_string(), "{value}");
        let loaded = read_snapshot(&path).expect("reads").expect("exists");
        assert_eq!((loaded.state.last_seq, loaded.next_segment), (7, 3));
        assert_eq!(loaded.bytes, bytes.len() as u64);
    }

    #[test]
    fn a_format_1_snapshot_without_checksum_still_opens() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("orders.json");
        fs::write(
            &path,
            br#"{"format":1,"last_seq":4,"next_segment":2,"orders":[],
"idempotency":[],
"published_through":4,
"outbox":[]}
"#,
        )
        .expect("write");
        let loaded = read_snapshot(&path).expect("reads").expect("exists");
        assert_eq!((loaded.state.last_seq, loaded.next_segment), (4, 2));
    }

    #[test]
    fn format_and_checksum_must_agree() {
        let (_dir, path) = written(&state(7));
        let sealed = fs::read_to_string(&path).expect("read");
        let unsealed = format!(
            "{}}}\n",
            &sealed[..sealed.rfind(",\"crc32c\"").expect("seal")]
        );
        fs::write(&path, &unsealed).expect("write");
        let problem = refusal(&path);
        assert_eq!(problem.offset, Some(0), "{problem}");
        assert!(problem.reason.contains("format 2"), "{problem}");

        let mut old = unsealed
            .replacen("\"format\":2", "\"format\":1", 1)
            .into_bytes();
        old.pop();
        shared_events::storage::checksum::seal_object(&mut old, 0);
        fs::write(&path, &old).expect("write");
        let problem = refusal(&path);
        assert!(problem.reason.contains("carries one"), "{problem}");
    }

    #[test]
    fn a_changed_byte_is_refused_at_byte_0() {
        let (_dir, path) = written(&state(17));
        let sealed = fs::read_to_string(&path).expect("read");
        fs::write(&path, sealed.replace("\"last_seq\":17", "\"last_seq\":18")).expect("write");
        let problem = refusal(&path);
        assert_eq!(problem.offset, Some(0));
        assert!(
            problem.to_string().contains("orders.json at byte 0"),
            "{problem}"
        );
    }

    #[test]
    fn an_unknown_member_is_refused_where_parsing_stopped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("orders.json");
        let text = "{\"format\":1,\"last_seq\":0,\"next_segment\":1,\n\"orders\":[],\"idempotency\":[],\"extra\":1}\n";
        fs::write(&path, text).expect("write");
        let problem = refusal(&path);
        let offset = problem.offset.expect("an offset") as usize;
        let member = text.find("\"extra\"").expect("member");
        assert!(problem.reason.contains("extra"), "{problem}");
        assert!(
            (member..=member + "\"extra\":".len()).contains(&offset),
            "{problem}"
        );
    }

    #[test]
    fn numbers_that_do_not_add_up_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("orders.json");
        fs::write(
            &path,
            r#"{"format":1,"last_seq":4,"next_segment":2,"orders":[],"idempotency":[],"published_through":5}"#,
        )
        .expect("write");
        assert!(refusal(&path).reason.contains("published"));
    }
}
