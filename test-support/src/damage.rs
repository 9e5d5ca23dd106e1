//! Damaged data files, one flipped byte at a time, each on a copy of the data directory: the
//! trials that show a service either starts with exactly what it acknowledged or refuses to
//! start, naming the file and the byte offset.

use std::fmt::Debug;
use std::fs;
use std::path::Path;

/// How a series of flips went.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FlipReport {
    /// Trials in which the copy opened, with exactly the expected data.
    pub opened: usize,
    /// Trials in which opening the copy was refused with the file and an offset.
    pub refused: usize,
}

/// Up to `trials` offsets spread evenly over a file of `len` bytes, the first and last
/// included; every offset when the file is that small.
pub fn offsets(len: usize, trials: usize) -> Vec<usize> {
    if len <= trials || trials < 2 {
        return (0..len).collect();
    }
    let mut offsets: Vec<usize> = (0..trials).map(|n| n * (len - 1) / (trials - 1)).collect();
    offsets.dedup();
    offsets
}

/// For each offset, copies `data_dir` (without lock files) to a fresh folder, flips one bit of
/// the byte at that offset of `file` (a path inside the directory; a different bit each
/// trial), and opens the copy with `open`. Each trial must open with exactly `expected`, or be
/// refused with an error that names `file` and says `byte <offset>` for an offset at or before
/// the flip. Panics on the first trial that does neither, showing it.
pub fn flip_each<T: PartialEq + Debug>(
    data_dir: &Path,
    file: &str,
    offsets: &[usize],
    open: impl Fn(&Path) -> Result<T, String>,
    expected: &T,
) -> FlipReport {
    let original = fs::read(data_dir.join(file)).expect("the file to damage exists");
    let file_name = Path::new(file)
        .file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned();
    let mut report = FlipReport::default();
    for (trial, &offset) in offsets.iter().enumerate() {
        assert!(offset < original.len(), "offset {offset} is inside {file}");
        let copy = tempfile::tempdir().expect("a folder for the copy");
        copy_dir(data_dir, copy.path());
        let mut damaged = original.clone();
        let bit = 1u8 << (trial % 8);
        damaged[offset] ^= bit;
        fs::write(copy.path().join(file), &damaged).expect("the damaged copy is written");
        match open(copy.path()) {
            Ok(opened) => {
                assert_eq!(
                    &opened, expected,
                    "{file}: flipping bit {bit:#04x} at byte {offset} opened with other data"
                );
                report.opened += 1;
            }
            Err(message) => {
                assert!(
                    message.contains(&file_name) && refused_at_or_before(&message, offset),
                    "{file}: flipping bit {bit:#04x} at byte {offset} was refused without the \
                     file and an offset at or before it: {message}"
                );
                report.refused += 1;
            }
        }
    }
    report
}

/// [`flip_each`] over each of `files` in `data_dir`, at up to `trials` offsets spread over each.
/// Every file must hold data, and at least one flip in each must be refused: a file whose every
/// byte could change without notice would be protected by nothing.
pub fn flip_files<T: PartialEq + Debug>(
    data_dir: &Path,
    files: &[&str],
    trials: usize,
    open: impl Fn(&Path) -> Result<T, String>,
    expected: &T,
) {
    for file in files {
        let len = fs::metadata(data_dir.join(file))
            .expect("the file to damage exists")
            .len() as usize;
        assert!(len > 0, "{file} holds data");
        let report = flip_each(data_dir, file, &offsets(len, trials), &open, expected);
        assert!(report.refused > 0, "{file}: {report:?}");
    }
}

/// Copies the files of `from` into `to`, folders included, leaving lock files out.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("the copy's folder");
    for entry in fs::read_dir(from).expect("the data directory lists") {
        let entry = entry.expect("an entry");
        let name = entry.file_name();
        let target = to.join(&name);
        let kind = entry.file_type().expect("a file type");
        if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if kind.is_file() && !name.to_string_lossy().ends_with(".lock") {
            fs::copy(entry.path(), target).expect("a data file is copied");
        }
    }
}

/// Whether `message` says `byte N` for some N no greater than `offset`.
fn refused_at_or_before(message: &str, offset: usize) -> bool {
    message.match_indices("byte ").any(|(at, _)| {
        let digits: String = message[at + 5..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits
            .parse::<usize>()
            .is_ok_and(|reported| reported <= offset)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_spread_over_the_file() {
        assert_eq!(offsets(5, 10), vec![0, 1, 2, 3, 4]);
        assert_eq!(offsets(101, 3), vec![0, 50, 100]);
    }

    #[test]
    fn an_offset_is_read_from_the_message() {
        assert!(refused_at_or_before("j.jsonl is damaged at byte 12: x", 40));
        assert!(!refused_at_or_before(
            "j.jsonl is damaged at byte 41: x",
            40
        ));
        assert!(!refused_at_or_before("j.jsonl is damaged", 40));
    }
}
