//! What `<binary> data check` and `data repair` report: problems found in the data files, and
//! what a repair dropped to get past them.

use std::fmt;
use std::path::PathBuf;

/// One problem in one data file. A check lists every problem it finds and changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The damaged file.
    pub file: PathBuf,
    /// Where in the file, when one place is to blame.
    pub offset: Option<u64>,
    /// What is wrong, in words an operator can act on.
    pub reason: String,
}

/// What a repair removed from one file (or the file itself), said exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The file repaired (or removed).
    pub file: PathBuf,
    /// What was dropped: which records, how many bytes, from which offset.
    pub what: String,
}

impl Problem {
    /// A problem at `offset` of `file`.
    pub fn at(file: impl Into<PathBuf>, offset: u64, reason: impl Into<String>) -> Problem {
        Problem {
            file: file.into(),
            offset: Some(offset),
            reason: reason.into(),
        }
    }

    /// A problem with `file` as a whole (missing, or inconsistent with another file).
    pub fn whole(file: impl Into<PathBuf>, reason: impl Into<String>) -> Problem {
        Problem {
            file: file.into(),
            offset: None,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(offset) => write!(
                f,
                "{} at byte {offset}: {}",
                self.file.display(),
                self.reason
            ),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: dropped {}", self.file.display(), self.what)
    }
}
