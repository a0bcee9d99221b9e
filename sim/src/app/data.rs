//! The application's data: what the sending program writes.
//!
//! Owns [`DataSource`], a pure function from (seed, stream offset) to the
//! byte the sender writes there, with the framing a flow asks for (a
//! delimiter ending every message, or a length prefix starting it), and its
//! xxh3-64 hash. Does not know where the bytes go: the send paths hand them
//! to the stack, the receive side hashes what arrives.

use std::hash::Hasher;
use std::sync::Arc;
use twox_hash::XxHash3_64;

use crate::config::{FlowConfig, FramingKind};
use crate::engine::Rng;

/// Bytes of random data an application's writes are cut from: one block
/// per run, shared by every flow (memory does not grow with the flows).
const DATA_BLOCK: usize = 1 << 20;

/// The characters application data is made of.
const DATA_ALPHABET: &[u8; 64] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.";
/// The stream is made of segments of this many bytes, each cut from the
/// random block at its own seeded offset.
const DATA_SEGMENT: u64 = 64 * 1024;

/// The sending application's data: pseudo-random printable text. Byte `o`
/// of the stream is a pure function of the seed and `o`: segment
/// `o / DATA_SEGMENT` is a slice of a seeded random block at a seeded,
/// cache-line aligned offset. Producing bytes costs a memcpy, and the hash
/// of what should arrive can be computed on its own (on another core, while
/// the model runs) without replaying the run. Text, not arbitrary binary, so
/// that Wireshark's heuristic dissectors do not mistake the payload for some
/// binary protocol and flag it malformed.
#[derive(Clone)]
pub struct DataSource {
    block: Arc<Vec<u8>>,
    seed: u64,
    /// Delimited framing: `(delimiter, message length)`: the last byte of
    /// every message is the delimiter.
    delimiter: Option<(u8, u64)>,
    /// Length-prefixed framing: `(message length, its header)`: every
    /// message starts with the body length in 8 hex digits.
    prefix: Option<(u64, [u8; 8])>,
}

impl DataSource {
    /// The random block seed `seed` makes.
    pub fn block(seed: u64) -> Arc<Vec<u8>> {
        let mut block = vec![0; DATA_BLOCK];
        Rng::new(seed).fill(&mut block);
        for b in &mut block {
            *b = DATA_ALPHABET[(*b & 63) as usize];
        }
        Arc::new(block)
    }

    /// The data of seed `seed`, cut from `block` (shared): the seed picks
    /// where each segment of the stream comes from.
    pub fn cut_from(block: Arc<Vec<u8>>, seed: u64) -> DataSource {
        DataSource {
            block,
            seed,
            delimiter: None,
            prefix: None,
        }
    }

    /// The data flow `fc` writes, from `seed`, cut from `block`, framed as
    /// the flow says: one send call is one message.
    pub fn for_flow(fc: &FlowConfig, block: Arc<Vec<u8>>, seed: u64) -> DataSource {
        let data = DataSource::cut_from(block, seed);
        let body = fc.write_size as u64;
        match fc.framing {
            Some(fr) if fr.kind == FramingKind::Delimited => data.delimited(fr.delimiter, body),
            Some(fr) if fr.kind == FramingKind::LengthPrefixed => {
                data.length_prefixed(fr.parts(body).iter().sum())
            }
            _ => data,
        }
    }

    /// The same data, every `message` bytes starting with the body length
    /// (`message - 8`) in 8 hex digits.
    pub fn length_prefixed(mut self, message: u64) -> DataSource {
        let body = message.saturating_sub(8).min(u32::MAX as u64);
        let mut header = [0; 8];
        header.copy_from_slice(format!("{body:08x}").as_bytes());
        self.prefix = Some((message.max(9), header));
        self
    }

    /// The same data, every `message` bytes ending with `delimiter`.
    pub fn delimited(mut self, delimiter: u8, message: u64) -> DataSource {
        self.delimiter = Some((delimiter, message.max(1)));
        self
    }

    /// Where segment `k` starts in the block.
    fn segment_start(&self, k: u64) -> usize {
        let slots = (DATA_BLOCK as u64 - DATA_SEGMENT) / 64 + 1;
        let mut z = self.seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z % slots) * 64) as usize
    }

    /// Calls `f` with the pieces of the block that make up stream bytes
    /// `[offset, offset + len)`, in order.
    fn pieces(&self, offset: u64, len: u64, mut f: impl FnMut(&[u8])) {
        let (mut at, end) = (offset, offset + len);
        while at < end {
            let k = at / DATA_SEGMENT;
            let within = at % DATA_SEGMENT;
            let n = (DATA_SEGMENT - within).min(end - at);
            let from = self.segment_start(k) + within as usize;
            f(&self.block[from..from + n as usize]);
            at += n;
        }
    }

    /// Writes stream bytes `[offset, offset + buf.len())` into `buf`.
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        let mut done = 0;
        self.pieces(offset, buf.len() as u64, |p| {
            buf[done..done + p.len()].copy_from_slice(p);
            done += p.len();
        });
        if let Some((m, header)) = self.prefix {
            let end = offset + buf.len() as u64;
            let mut start = (offset / m) * m;
            while start < end {
                for (i, &b) in header.iter().enumerate() {
                    let at = start + i as u64;
                    if at >= offset && at < end {
                        buf[(at - offset) as usize] = b;
                    }
                }
                start += m;
            }
        }
        if let Some((d, m)) = self.delimiter {
            // The message ends that fall in this range.
            let end = offset + buf.len() as u64;
            let mut at = (offset / m) * m + m - 1;
            while at < end {
                if at >= offset {
                    buf[(at - offset) as usize] = d;
                }
                at += m;
            }
        }
    }

    /// How many of `bytes`, taken as stream bytes from `offset` on, differ
    /// from the stream (compared a few hundred bytes at a time, without
    /// allocating).
    pub fn count_differences(&self, offset: u64, bytes: &[u8]) -> u32 {
        let mut want = [0u8; 512];
        let mut n = 0;
        for (i, chunk) in bytes.chunks(want.len()).enumerate() {
            let want = &mut want[..chunk.len()];
            self.fill(offset + (i * 512) as u64, want);
            n += chunk
                .iter()
                .zip(want.iter())
                .filter(|(a, b)| a != b)
                .count();
        }
        n as u32
    }

    /// xxh3-64 of the first `len` bytes of the stream.
    pub fn hash(&self, len: u64) -> u64 {
        let mut h = XxHash3_64::new();
        if self.delimiter.is_none() && self.prefix.is_none() {
            self.pieces(0, len, |p| h.write(p));
        } else {
            let mut chunk = vec![0; 64 * 1024];
            let mut at = 0;
            while at < len {
                let n = (len - at).min(chunk.len() as u64) as usize;
                self.fill(at, &mut chunk[..n]);
                h.write(&chunk[..n]);
                at += n as u64;
            }
        }
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The data of seed `seed`, cut from a block of its own.
    fn data(seed: u64) -> DataSource {
        DataSource::cut_from(DataSource::block(seed), seed)
    }

    #[test]
    fn data_is_a_function_of_seed_and_offset_alone() {
        let a = data(3);
        let mut whole = vec![0; 200_000];
        a.fill(0, &mut whole);
        // Any split of the stream gives the same bytes.
        let mut parts = vec![0; 200_000];
        a.fill(0, &mut parts[..70_001]);
        a.fill(70_001, &mut parts[70_001..]);
        assert_eq!(whole, parts);
        assert_ne!(whole[..65536], whole[65536..131072], "segments differ");
        let mut other = vec![0; 200_000];
        data(4).fill(0, &mut other);
        assert_ne!(whole, other);
        assert!(whole
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(b)));
    }

    #[test]
    fn delimited_data_ends_every_message_with_the_delimiter() {
        let a = data(5).delimited(b'\n', 100);
        let mut bytes = vec![0; 1000];
        a.fill(0, &mut bytes[..333]);
        a.fill(333, &mut bytes[333..]);
        let ends: Vec<usize> = (0..1000).filter(|&i| bytes[i] == b'\n').collect();
        assert_eq!(ends, (0..10).map(|k| k * 100 + 99).collect::<Vec<_>>());
        let mut h = XxHash3_64::new();
        h.write(&bytes);
        assert_eq!(a.hash(1000), h.finish());
    }

    #[test]
    fn length_prefixed_data_starts_every_message_with_its_body_length() {
        let a = data(5).length_prefixed(108);
        let mut bytes = vec![0; 300];
        a.fill(0, &mut bytes[..111]);
        a.fill(111, &mut bytes[111..]);
        assert_eq!(&bytes[0..8], b"00000064");
        assert_eq!(&bytes[108..116], b"00000064");
        assert_eq!(&bytes[216..224], b"00000064");
        let mut h = XxHash3_64::new();
        h.write(&bytes);
        assert_eq!(a.hash(300), h.finish());
    }

    #[test]
    fn differences_from_the_stream_are_counted_byte_by_byte() {
        let a = data(9).delimited(b'\n', 700);
        let mut bytes = vec![0; 2000];
        a.fill(1234, &mut bytes);
        assert_eq!(a.count_differences(1234, &bytes), 0);
        bytes[0] ^= 1;
        bytes[1999] ^= 1;
        bytes[600] = if bytes[600] == b'x' { b'y' } else { b'x' };
        assert_eq!(a.count_differences(1234, &bytes), 3);
        // The same bytes taken from elsewhere in the stream: nearly all differ.
        assert!(a.count_differences(99_999, &bytes) > 1800);
    }

    #[test]
    fn stream_hash_is_the_hash_of_the_bytes() {
        let a = data(9);
        let mut bytes = vec![0; 150_000];
        a.fill(0, &mut bytes);
        let mut h = XxHash3_64::new();
        h.write(&bytes);
        assert_eq!(a.hash(150_000), h.finish());
    }
}
