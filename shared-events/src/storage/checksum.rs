//! CRC32C checksums carried inside the JSON objects they protect.
//!
//! A sealed object ends with one more member, `"crc32c":"<8 lowercase hex digits>"`, the CRC32C
//! of every byte of the object before it (the opening brace up to, not including, the comma in
//! front of the checksum):
//!
//! ```text
//! {"seq":7,"event":{...},"crc32c":"1f2e3d4c"}
//! ```
//!
//! So every record stays one JSON object that any JSON tool reads (a reader that does not know
//! the member ignores it), a writer seals as it streams (a snapshot of a million orders is never
//! held twice in memory), and a reader checks a record without parsing it first.
//!
//! Files written before checksums existed hold objects without the member ([`Seal::Missing`]).
//! Each file format says where such objects are still accepted; an object that ends the way a
//! sealed one does but whose checksum or member name is wrong is [`Seal::Mismatch`], never
//! taken for an old one.

use std::fmt::Write as _;
use std::io::{self, Write};

/// The member that carries the checksum, with the quotes around its name and value's opening.
const MEMBER: &[u8] = b"\"crc32c\":\"";
/// `"crc32c":"` + 8 hex digits + `"}`.
const SEALED_TAIL: usize = MEMBER.len() + 8 + 2;

/// What an object's last member says about its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seal {
    /// The checksum is there and matches.
    Verified,
    /// The object has no checksum member: written before checksums, or its end is damaged.
    Missing,
    /// The object ends like a sealed one, but the checksum (or its name) does not match.
    Mismatch,
}

/// Seals the JSON object that `buffer[start..]` holds (as `serde_json` wrote it, ending in `}`).
pub fn seal_object(buffer: &mut Vec<u8>, start: usize) {
    debug_assert_eq!(buffer.last(), Some(&b'}'), "a serialized object");
    buffer.pop();
    let checksum = crc32c::crc32c(&buffer[start..]);
    if buffer.len() - start > 1 {
        buffer.push(b',');
    }
    push_member(buffer, checksum);
}

/// Checks the object `object` (one whole JSON object, no whitespace around it).
pub fn check_object(object: &[u8]) -> Seal {
    let Some(body_end) = sealed_body_end(object) else {
        return Seal::Missing;
    };
    let tail = &object[object.len() - SEALED_TAIL..];
    let digits = &tail[MEMBER.len()..MEMBER.len() + 8];
    let stored = std::str::from_utf8(digits)
        .ok()
        .filter(|digits| {
            digits
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
        .and_then(|digits| u32::from_str_radix(digits, 16).ok());
    match stored {
        Some(stored)
            if tail.starts_with(MEMBER) && stored == crc32c::crc32c(&object[..body_end]) =>
        {
            Seal::Verified
        }
        _ => Seal::Mismatch,
    }
}

/// Where the checked part of a sealed-looking object ends: the object must end with
/// `,"xxxxxx":"xxxxxxxx"}` (a six-letter name and an eight-character value), or be only that
/// member. The name and digits are not looked at here: a damaged one is a mismatch, not an old
/// record.
fn sealed_body_end(object: &[u8]) -> Option<usize> {
    let len = object.len();
    if len < SEALED_TAIL + 1 || !object.ends_with(b"\"}") {
        return None;
    }
    let tail = &object[len - SEALED_TAIL..];
    let shaped = tail[0] == b'"' && tail[7] == b'"' && tail[8] == b':' && tail[9] == b'"';
    if !shaped {
        return None;
    }
    match object[len - SEALED_TAIL - 1] {
        b',' => Some(len - SEALED_TAIL - 1),
        b'{' if len == SEALED_TAIL + 1 => Some(1),
        _ => None,
    }
}

fn push_member(buffer: &mut Vec<u8>, checksum: u32) {
    buffer.extend_from_slice(MEMBER);
    let mut digits = String::with_capacity(8);
    let _ = write!(digits, "{checksum:08x}");
    buffer.extend_from_slice(digits.as_bytes());
    buffer.extend_from_slice(b"\"}");
}

/// A writer that seals the one JSON object streamed through it: write the object without its
/// closing `}`, then [`SealingWriter::finish`] writes the checksum member and the brace.
pub struct SealingWriter<W> {
    inner: W,
    checksum: u32,
    written: u64,
}

impl<W: Write> SealingWriter<W> {
    /// Starts an object on `inner`.
    pub fn new(inner: W) -> SealingWriter<W> {
        SealingWriter {
            inner,
            checksum: 0,
            written: 0,
        }
    }

    /// Closes the object with its checksum and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        let mut tail = Vec::with_capacity(SEALED_TAIL + 1);
        if self.written > 1 {
            tail.push(b',');
        }
        push_member(&mut tail, self.checksum);
        self.inner.write_all(&tail)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for SealingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.checksum = crc32c::crc32c_append(self.checksum, &bytes[..written]);
        self.written += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(json: &str) -> Vec<u8> {
        let mut buffer = b"prefix".to_vec();
        buffer.extend_from_slice(json.as_bytes());
        seal_object(&mut buffer, 6);
        buffer.split_off(6)
    }

    #[test]
    fn a_sealed_object_is_still_json_and_verifies() {
        let object = sealed(r#"{"seq":1,"name":"a"}"#);
        let value: serde_json::Value = serde_json::from_slice(&object).expect("still JSON");
        assert_eq!(value["seq"], 1);
        assert_eq!(check_object(&object), Seal::Verified);
        let empty = sealed("{}");
        assert!(serde_json::from_slice::<serde_json::Value>(&empty).is_ok());
        assert_eq!(check_object(&empty), Seal::Verified);
    }

    #[test]
    fn every_single_byte_flip_is_caught_or_breaks_the_json() {
        let object = sealed(r#"{"seq":12,"email":"ada@example.com","total":"10.50"}"#);
        for offset in 0..object.len() {
            for bit in 0..8 {
                let mut damaged = object.clone();
                damaged[offset] ^= 1 << bit;
                let seal = check_object(&damaged);
                let parses = serde_json::from_slice::<serde_json::Value>(&damaged).is_ok();
                assert!(
                    seal == Seal::Mismatch || (seal == Seal::Missing && !parses),
                    "flip of bit {bit} at {offset} gave {seal:?}: {}",
                    String::from_utf8_lossy(&damaged)
                );
            }
        }
    }

    #[test]
    fn an_object_written_before_checksums_is_missing_its_seal() {
        assert_eq!(
            check_object(br#"{"seq":1,"change":{"a":1}}"#),
            Seal::Missing
        );
        assert_eq!(check_object(br#"{"resolved_at":null}"#), Seal::Missing);
        assert_eq!(check_object(b"{}"), Seal::Missing);
    }

    #[test]
    fn the_streaming_writer_seals_like_the_buffer() {
        let json = r#"{"format":2,"orders":[1,2,3]}"#;
        let mut writer = SealingWriter::new(Vec::new());
        writer
            .write_all(&json.as_bytes()[..json.len() - 1])
            .expect("writes");
        assert_eq!(writer.finish().expect("finishes"), sealed(json));
    }
}
