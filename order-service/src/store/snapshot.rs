//! `orders.json`: every order as of one journal position, written whole and atomically.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use shared_events::Order;
use shared_events::storage::atomic_file::write_atomically;

use crate::store::record::{IdempotencyEntry, PendingEvent};
use crate::store::state::StoreState;

/// The snapshot format this build writes and reads.
const FORMAT: u32 = 1;

/// What a snapshot holds besides the state: the first journal segment not folded into it.
#[derive(Debug)]
pub(crate) struct LoadedSnapshot {
    pub(crate) state: StoreState,
    pub(crate) next_segment: u64,
    pub(crate) bytes: u64,
}

#[derive(Deserialize)]
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
}

/// Writes `state` as the snapshot at `path`, covering the journal up to `next_segment`
/// (exclusive). Streams order by order, so no second copy of the store is built in memory.
pub(crate) fn write_snapshot(
    path: &Path,
    state: &StoreState,
    next_segment: u64,
) -> io::Result<u64> {
    write_atomically(path, |out| {
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
        out.write_all(b"]}\n")
    })?;
    Ok(fs::metadata(path)?.len())
}

/// Reads the snapshot at `path`, if there is one.
pub(crate) fn read_snapshot(path: &Path) -> Result<Option<LoadedSnapshot>, String> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
    };
    let file: SnapshotFile = serde_json::from_slice(&bytes)
        .map_err(|error| format!("snapshot {} is damaged: {error}", path.display()))?;
    if file.format != FORMAT {
        return Err(format!(
            "snapshot {} has format {}, this build reads {FORMAT}",
            path.display(),
            file.format
        ));
    }
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
    Ok(Some(LoadedSnapshot {
        state,
        next_segment: file.next_segment,
        bytes: bytes.len() as u64,
    }))
}
