//! Reading `failure.json`'s bytes: the array walked one record at a time, each record checked
//! against its checksum, and the one kind of damage a crash can leave, an append that never
//! finished at the end.
//!
//! [`scan`] is the strict reading every open and every read does; [`sift`] is the lenient one a
//! repair does, which goes on past damage to keep every intact record after it.

use std::collections::HashSet;

use super::FailureRecord;
use crate::storage::checksum::{Seal, check_object};
use crate::storage::journal::is_padding;

/// What [`scan`] found: whole records, then the closing bracket or an unfinished append.
pub(super) struct Scan {
    /// Just after the last whole record (or after `[`): where the next append goes.
    pub(super) records_end: usize,
    /// An append that never finished follows the last whole record: cut it, close the array.
    pub(super) torn: bool,
    /// The ids of the whole records.
    pub(super) ids: HashSet<String>,
    /// The whole records in order, when asked for.
    pub(super) records: Vec<FailureRecord>,
}

/// Where, and why, the bytes stop being what the log writes.
#[derive(Debug)]
pub(super) struct Damage {
    pub(super) offset: usize,
    pub(super) reason: String,
}

/// What [`sift`] found: every intact record, and every piece of the file that is not one.
#[derive(Default)]
pub(super) struct Sifted {
    pub(super) records: Vec<FailureRecord>,
    pub(super) pieces: Vec<Piece>,
}

/// Bytes of the file that are not an intact record.
pub(super) struct Piece {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) reason: String,
    /// The id of a whole record refused for its checksum, as read.
    pub(super) record_id: Option<String>,
    /// What an append that never finished left: nobody was told it was stored.
    pub(super) unfinished: bool,
}

/// The file is empty or blank: never written so, as it is only ever replaced whole.
pub(super) const EMPTY_FILE: &str = "the file is empty, but a failure log always holds at least \
     `[` and `]` (it is only ever replaced whole, so it was damaged); `data repair` makes it an \
     empty array";

/// Reads `content` strictly: every record whole and intact, then the closing bracket, or an
/// append that never finished (see [`unfinished_append`]). Keeps the records if asked.
pub(super) fn scan(content: &[u8], keep_records: bool) -> Result<Scan, Damage> {
    let mut walker = Walker::new(content)?;
    let mut scan = Scan {
        records_end: walker.position,
        torn: false,
        ids: HashSet::new(),
        records: Vec::new(),
    };
    loop {
        match walker.step() {
            Step::Record { end, record } => {
                scan.records_end = end;
                scan.ids.insert(record.id.clone());
                if keep_records {
                    scan.records.push(*record);
                }
            }
            Step::Closed => return Ok(scan),
            Step::Refused { start, reason, .. } => {
                return Err(Damage {
                    offset: start,
                    reason,
                });
            }
            Step::Broken { offset, .. } if unfinished_append(content, offset) => {
                scan.torn = true;
                return Ok(scan);
            }
            Step::Broken { offset, reason } => {
                return Err(Damage {
                    offset,
                    reason: format!(
                        "{reason}; more follows, so it is not an append that never finished"
                    ),
                });
            }
        }
    }
}

/// Reads `content` leniently: after damage, goes on at the next line that starts a record.
pub(super) fn sift(content: &[u8]) -> Sifted {
    let mut sifted = Sifted::default();
    let mut walker = match Walker::new(content) {
        Ok(walker) => walker,
        Err(damage) => match resume_at(content, 0) {
            Some((at, expect)) => {
                sifted.pieces.push(Piece::broken(0, at, damage.reason));
                Walker::at(content, at, expect)
            }
            None => {
                sifted
                    .pieces
                    .push(Piece::broken(0, content.len(), damage.reason));
                return sifted;
            }
        },
    };
    loop {
        match walker.step() {
            Step::Record { record, .. } => sifted.records.push(*record),
            Step::Closed => return sifted,
            Step::Refused {
                start,
                end,
                reason,
                id,
            } => sifted.pieces.push(Piece {
                start,
                end,
                reason,
                record_id: Some(id),
                unfinished: false,
            }),
            Step::Broken { offset, reason } if unfinished_append(content, offset) => {
                if offset < content.len() {
                    sifted.pieces.push(Piece {
                        unfinished: true,
                        ..Piece::broken(offset, content.len(), reason)
                    });
                }
                return sifted;
            }
            Step::Broken { offset, reason } => match resume_at(content, offset) {
                Some((at, expect)) => {
                    sifted.pieces.push(Piece::broken(offset, at, reason));
                    walker.position = at;
                    walker.expect = expect;
                }
                None => {
                    sifted
                        .pieces
                        .push(Piece::broken(offset, content.len(), reason));
                    return sifted;
                }
            },
        }
    }
}

/// The id at the start of a damaged record, as far as it can be read.
pub(super) fn readable_id(bytes: &[u8]) -> Option<&str> {
    let rest = bytes.strip_prefix(br#"{"id":""#)?;
    let end = rest.iter().take(100).position(|byte| *byte == b'"')?;
    std::str::from_utf8(&rest[..end])
        .ok()
        .filter(|id| !id.is_empty())
}

/// Walks `[ record , record ... ]` one token at a time.
struct Walker<'a> {
    content: &'a [u8],
    position: usize,
    expect: Expect,
    /// A checksummed record was read: every later one must carry its checksum too.
    checksummed: bool,
}

/// What may come next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Just after `[`.
    FirstOrEnd,
    /// Just after a record.
    SeparatorOrEnd,
    /// Just after a comma.
    Record,
}

enum Step {
    /// A whole, intact record, ending at `end`.
    Record {
        end: usize,
        record: Box<FailureRecord>,
    },
    /// The closing bracket, with only whitespace after it.
    Closed,
    /// A whole record that is refused (its checksum); the walk can go on after it.
    Refused {
        start: usize,
        end: usize,
        reason: String,
        id: String,
    },
    /// Bytes that are not what the array holds at this point.
    Broken { offset: usize, reason: String },
}

impl<'a> Walker<'a> {
    fn new(content: &'a [u8]) -> Result<Walker<'a>, Damage> {
        if content.iter().all(u8::is_ascii_whitespace) {
            return Err(Damage {
                offset: 0,
                reason: EMPTY_FILE.to_owned(),
            });
        }
        let start = skip_whitespace(content, 0);
        if content[start] != b'[' {
            return Err(Damage {
                offset: start,
                reason: "not a JSON array".to_owned(),
            });
        }
        Ok(Walker::at(content, start + 1, Expect::FirstOrEnd))
    }

    fn at(content: &'a [u8], position: usize, expect: Expect) -> Walker<'a> {
        Walker {
            content,
            position,
            expect,
            checksummed: false,
        }
    }

    fn step(&mut self) -> Step {
        loop {
            self.position = skip_whitespace(self.content, self.position);
            let at = self.position;
            let broken = |reason: &str| Step::Broken {
                offset: at,
                reason: reason.to_owned(),
            };
            match (self.content.get(at), self.expect) {
                (None, _) => return broken("the array ends without its closing bracket"),
                (Some(b']'), Expect::FirstOrEnd | Expect::SeparatorOrEnd) => {
                    let after = skip_whitespace(self.content, at + 1);
                    if after < self.content.len() {
                        return Step::Broken {
                            offset: after,
                            reason: "bytes after the closing bracket".to_owned(),
                        };
                    }
                    return Step::Closed;
                }
                (Some(b','), Expect::SeparatorOrEnd) => {
                    self.position += 1;
                    self.expect = Expect::Record;
                }
                (Some(b'{'), Expect::FirstOrEnd | Expect::Record) => return self.record(),
                (Some(_), Expect::Record) => return broken("not a record after a comma"),
                (Some(_), Expect::SeparatorOrEnd) => {
                    return broken("neither a comma nor the closing bracket after a record");
                }
                (Some(_), Expect::FirstOrEnd) => {
                    return broken("neither a record nor the closing bracket after `[`");
                }
            }
        }
    }

    /// Reads the record that starts at `self.position` and checks it against its checksum.
    fn record(&mut self) -> Step {
        let start = self.position;
        let mut stream = serde_json::Deserializer::from_slice(&self.content[start..])
            .into_iter::<FailureRecord>();
        let record = match stream.next() {
            Some(Ok(record)) => record,
            Some(Err(error)) => {
                return Step::Broken {
                    offset: start,
                    reason: format!("not a whole record: {error}"),
                };
            }
            None => {
                return Step::Broken {
                    offset: start,
                    reason: "not a record".to_owned(),
                };
            }
        };
        let end = start + stream.byte_offset();
        self.position = end;
        self.expect = Expect::SeparatorOrEnd;
        let refused = match check_object(&self.content[start..end]) {
            Seal::Verified => {
                self.checksummed = true;
                None
            }
            Seal::Mismatch => Some("the record does not match its checksum"),
            Seal::Missing if self.checksummed => {
                Some("a record without a checksum after checksummed ones")
            }
            Seal::Missing => None,
        };
        match refused {
            Some(reason) => Step::Refused {
                start,
                end,
                reason: reason.to_owned(),
                id: record.id,
            },
            None => Step::Record {
                end,
                record: Box::new(record),
            },
        }
    }
}

impl Piece {
    fn broken(start: usize, end: usize, reason: String) -> Piece {
        Piece {
            start,
            end,
            reason,
            record_id: None,
            unfinished: false,
        }
    }
}

/// Whether the bytes from `offset`, where the array stops being whole, can be what an append
/// that never finished left. An append writes `,\n<record>\n]\n` over the closing `\n]\n` in
/// one write, and a crash keeps a prefix of it over the old bytes, or zeros. So once its record
/// has begun, no newline is followed by anything but padding; before that, only a comma, what is
/// left of the old `\n]\n`, and zeros. Damage inside a whole record, the last one included, is
/// followed by more, and is never taken for an unfinished append.
fn unfinished_append(content: &[u8], offset: usize) -> bool {
    let rest = &content[offset..];
    if rest.first() == Some(&b'{') {
        rest.iter()
            .position(|byte| *byte == b'\n')
            .is_none_or(|newline| is_padding(&rest[newline..]))
    } else {
        rest.iter()
            .all(|byte| matches!(byte, b',' | b']' | 0) || is_json_whitespace(*byte))
    }
}

/// The next line after the one holding `offset` that starts (after blanks) a record or the
/// closing bracket, and what the walk expects there.
fn resume_at(content: &[u8], offset: usize) -> Option<(usize, Expect)> {
    let mut line_start = offset + content[offset..].iter().position(|byte| *byte == b'\n')? + 1;
    while line_start < content.len() {
        let line_end = content[line_start..]
            .iter()
            .position(|byte| *byte == b'\n')
            .map_or(content.len(), |newline| line_start + newline);
        let line = &content[line_start..line_end];
        let blanks = line.len() - line.trim_ascii_start().len();
        match line.get(blanks) {
            Some(b'{') => return Some((line_start + blanks, Expect::Record)),
            Some(b']') => return Some((line_start + blanks, Expect::SeparatorOrEnd)),
            _ => line_start = line_end + 1,
        }
    }
    None
}

/// Only JSON's whitespace: a form feed or a vertical tab is damage, not a gap between records.
fn skip_whitespace(content: &[u8], mut position: usize) -> usize {
    while content
        .get(position)
        .is_some_and(|byte| is_json_whitespace(*byte))
    {
        position += 1;
    }
    position
}

fn is_json_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}
