//! Where the order store keeps its files inside the data directory.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The snapshot is `orders.json`; the journal is a series of segments
/// `orders-journal-000001.jsonl`, `...000002.jsonl`; a new segment starts at each compaction.
#[derive(Debug, Clone)]
pub(crate) struct StoreFiles {
    dir: PathBuf,
}

const SEGMENT_PREFIX: &str = "orders-journal-";
const SEGMENT_SUFFIX: &str = ".jsonl";

impl StoreFiles {
    pub(crate) fn new(dir: &Path) -> StoreFiles {
        StoreFiles {
            dir: dir.to_owned(),
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn snapshot(&self) -> PathBuf {
        self.dir.join("orders.json")
    }

    pub(crate) fn segment(&self, number: u64) -> PathBuf {
        self.dir.join(segment_name(number))
    }

    /// The numbers of the journal segments present, ascending.
    ///
    /// Only names this store writes count: a number written with other digits is not a segment.
    pub(crate) fn segments(&self) -> io::Result<Vec<u64>> {
        let mut numbers = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let number = name
                .to_str()
                .and_then(|name| name.strip_prefix(SEGMENT_PREFIX))
                .and_then(|rest| rest.strip_suffix(SEGMENT_SUFFIX))
                .and_then(|digits| digits.parse::<u64>().ok())
                .filter(|number| name.to_str() == Some(segment_name(*number).as_str()));
            numbers.extend(number);
        }
        numbers.sort_unstable();
        Ok(numbers)
    }
}

/// The file name of segment `number`: what a seal mark names as the file that continues a
/// segment.
pub(crate) fn segment_name(number: u64) -> String {
    format!("{SEGMENT_PREFIX}{number:06}{SEGMENT_SUFFIX}")
}
