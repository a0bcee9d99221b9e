//! Growable receive buffers read into with `read_until` a delimiter.
//!
//! Owns [`DynamicBuffer`], asio's dynamic_string_buffer /
//! dynamic_vector_buffer / streambuf as the model sees them: how often it
//! grows and how many bytes its reallocations copy (application-level
//! copies the report counts). Does not hold the bytes.

use crate::buffer::{ReceiveBuffer, Received};

/// A growable receive buffer read into with `read_until` a delimiter
/// (asio's dynamic_string_buffer / dynamic_vector_buffer / streambuf). It
/// grows by doubling; every reallocation copies the bytes it already holds,
/// an application-level copy. A complete message is consumed, and the
/// capacity stays for the next one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DynamicBuffer {
    /// Bytes of the current (incomplete) message held.
    pub held: u64,
    pub capacity: u64,
    /// Message length: every `message`-th stream byte is a delimiter.
    pub message: u64,
    pub grows: u64,
    /// Bytes copied by reallocations.
    pub grow_bytes: u64,
    pub messages: u64,
}

/// The smallest allocation of a dynamic buffer (asio's read_until
/// prepares 512 bytes at a time).
pub const DYNAMIC_MIN: u64 = 512;

impl ReceiveBuffer for DynamicBuffer {
    fn name(&self) -> &'static str {
        "dynamic (doubling)"
    }

    fn read(&mut self, at: u64, n: u64) -> Received {
        let (grows, copied, messages) = DynamicBuffer::read(self, at, n);
        Received {
            grows,
            copied,
            messages,
        }
    }
}

impl DynamicBuffer {
    /// `n` bytes read at stream offset `at`: append them, growing as
    /// needed, and consume every message that completes. Returns (grows,
    /// bytes copied by them, messages completed) for this read.
    pub fn read(&mut self, at: u64, n: u64) -> (u64, u64, u64) {
        let (g0, b0, m0) = (self.grows, self.grow_bytes, self.messages);
        let (mut pos, end) = (at, at + n);
        while pos < end {
            let to_delimiter = self.message - pos % self.message;
            let k = to_delimiter.min(end - pos);
            let mut left = k;
            while left > 0 {
                if self.held == self.capacity {
                    // Full: realloc, and the bytes held move along.
                    if self.held > 0 {
                        self.grows += 1;
                        self.grow_bytes += self.held;
                    }
                    self.capacity = (self.capacity * 2).max(DYNAMIC_MIN);
                }
                let put = left.min(self.capacity - self.held);
                self.held += put;
                left -= put;
            }
            pos += k;
            if k == to_delimiter {
                self.messages += 1;
                self.held = 0;
            }
        }
        (self.grows - g0, self.grow_bytes - b0, self.messages - m0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_buffer_doubles_and_copies_what_it_holds() {
        let mut d = DynamicBuffer {
            message: 3000,
            ..DynamicBuffer::default()
        };
        // 512 -> 1024 -> 2048 -> 4096 while 3000 bytes arrive 1000 at a time.
        assert_eq!(d.read(0, 1000), (1, 512, 0));
        assert_eq!(d.read(1000, 1000), (1, 1024, 0));
        assert_eq!(d.read(2000, 1000), (1, 2048, 1));
        // The capacity stays: the next message needs no growth.
        assert_eq!(d.read(3000, 3000), (0, 0, 1));
        assert_eq!(d.held, 0);
    }
}
