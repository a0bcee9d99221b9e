//! The comment every captured frame carries (an Enhanced Packet Block's
//! `opt_comment`, which Wireshark shows as `frame.comment`).
//!
//! Owns [`write`]: one line of text from the frame and what the model
//! knows about it ([`FrameInfo`]). Parts are separated by `"; "`:
//!
//! 1. what the frame carries: a flow's stream bytes and the send calls
//!    they came from — `flow 0 bytes 0..1448 from buf 3 [0..1448) send
//!    #17` (application buffer 3, its bytes 0..1448, as send call 17,
//!    counted from 0, wrote them), `file [..) send #k` for sendfile and
//!    splice, `echo buf [..)` for an echo server's write-back of `flow 0
//!    echo bytes`; a frame made of more than four calls names the first
//!    three, how many more, and the last. A frame without stream bytes
//!    says what it is: `SYN`, `SYN-ACK`, `FIN`, `RST`, `pure ACK`, `ARP`.
//! 2. how the sending kernel held the bytes and the copies by the CPU
//!    they have had: `copied (write), 1 copy`, `pinned user pages
//!    (msg_zerocopy), 0 copies`, `registered buffer (io_uring_fixed)`,
//!    `page cache (sendfile)`, `copied-fallback ...` (zero-copy frags
//!    copied for a software checksum), `echo: read and written back`.
//! 3. on the sending port, `tx slot N`: the Tx ring slot of the frame's last
//!    descriptor (for a TSO segment, the super-segment's).
//! 4. anything unusual: `retransmission`; `REWRITTEN: k of n bytes ...`
//!    (a lifetime violation: the buffer, the send whose bytes the frame
//!    should carry and the send that wrote into the buffer again); what
//!    the wire did (`lost on the wire after capture`, `duplicated on the
//!    wire`, `duplicate made by the wire`, `reordered on the wire`,
//!    `corrupted on the wire, bit N`).
//! 5. on the receiving port, `rx slot N` and what NAPI did: `GRO merged`
//!    or `GRO: own skb` (with GRO on), `copybreak copy`, `bad checksum:
//!    dropped`, TCP's `out of order` or `duplicate: dropped`, or `not
//!    taken by NAPI before the run ended`; `rx ring full: dropped` when no
//!    descriptor was free.
//!
//! ASCII, written into a reused buffer without `format!`: the capture path
//! allocates nothing per frame, and a comment costs a few hundred
//! instructions. Does not write files ([`crate::capture`]
//! does) or decide anything: it says what the model reported.

use simnet_sim::event::Direction;
use simnet_sim::frame;
use simnet_sim::provenance::{FrameInfo, Holder, NapiVerdict, Origin, Rx, Source, Via};
use simnet_sim::socket::skb::RxQueued;

/// The decimal digits of 0 to 99, two by two.
const PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Powers of ten: `POW10[k]` is 10^k.
const POW10: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut k = 1;
    while k < 20 {
        t[k] = t[k - 1] * 10;
        k += 1;
    }
    t
};

/// The longest comment: longer text is cut (a comment is at most about 1
/// KiB: four named calls, the path, the slots and every unusual thing).
pub const MAX_LEN: usize = 2048;

/// A comment being written: a fixed buffer, reused for every frame, that
/// text and numbers are appended to without a capacity check per byte.
pub struct Comment {
    buf: [u8; MAX_LEN],
    len: usize,
}

impl Default for Comment {
    fn default() -> Self {
        Comment {
            buf: [0; MAX_LEN],
            len: 0,
        }
    }
}

impl Comment {
    /// The text written (ASCII).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Appends `s` (nothing if it does not fit).
    #[inline]
    fn text(&mut self, s: &str) {
        let end = self.len + s.len();
        if end <= MAX_LEN {
            self.buf[self.len..end].copy_from_slice(s.as_bytes());
            self.len = end;
        }
    }

    #[inline]
    fn byte(&mut self, b: u8) {
        if self.len < MAX_LEN {
            self.buf[self.len] = b;
            self.len += 1;
        }
    }

    /// Appends `n` in decimal, two digits per division.
    fn num(&mut self, n: u64) {
        // floor(log10(2^bits)) from the bit length (1233 / 4096 ~ log10 2),
        // then one comparison.
        let bits = 64 - (n | 1).leading_zeros();
        let t = ((bits * 1233) >> 12) as usize;
        let digits = if n < POW10[t] { t.max(1) } else { t + 1 };
        let end = self.len + digits;
        if end > MAX_LEN {
            return;
        }
        let (mut i, mut n) = (end, n);
        while n >= 100 {
            let r = 2 * (n % 100) as usize;
            n /= 100;
            i -= 2;
            self.buf[i..i + 2].copy_from_slice(&PAIRS[r..r + 2]);
        }
        if n >= 10 {
            let r = 2 * n as usize;
            self.buf[i - 2..i].copy_from_slice(&PAIRS[r..r + 2]);
        } else {
            self.buf[i - 1] = b'0' + n as u8;
        }
        self.len = end;
    }
}

/// Appends `a..b`.
fn range(out: &mut Comment, a: u64, b: u64) {
    out.num(a);
    out.text("..");
    out.num(b);
}

/// Appends one piece of the payload and the call that wrote it.
fn source(out: &mut Comment, s: &Source) {
    match s.holder {
        Holder::Buffer(b) => {
            out.text("buf ");
            out.num(b as u64);
        }
        Holder::File => out.text("file"),
        Holder::Echo => out.text("echo buf"),
        Holder::Unknown => out.text("an unknown buffer"),
    }
    out.text(" [");
    range(out, s.from, s.from + s.len as u64);
    out.byte(b')');
    if let Some(k) = s.send {
        out.text(" send #");
        out.num(k);
    }
}

/// Appends how the bytes were held and the copies they have had.
fn via(out: &mut Comment, info: &FrameInfo) {
    let Some(via) = info.via else {
        return;
    };
    out.text(match via {
        Via::Copied => "; copied",
        Via::PinnedUserPages => "; pinned user pages",
        Via::RegisteredBuffer => "; registered buffer",
        Via::PageCache => "; page cache",
        Via::CopiedFallback => "; copied-fallback (zero-copy frags copied for a software checksum)",
        Via::EchoCopied => "; echo: read and written back",
    });
    if let (Some(p), false) = (info.path, via == Via::EchoCopied) {
        out.text(" (");
        out.text(p.name());
        out.byte(b')');
    }
    out.text(", ");
    out.num(info.copies as u64);
    out.text(if info.copies == 1 { " copy" } else { " copies" });
}

/// What a frame without known stream bytes is.
fn kind(out: &mut Comment, frame: &[u8]) {
    if frame.get(12..14) == Some(&[0x08, 0x06]) {
        out.text("ARP");
        return;
    }
    let Some(g) = frame::tcp_segment(frame) else {
        out.text("not TCP");
        return;
    };
    let f = g.flags;
    let syn = f & frame::TCP_SYN != 0;
    let ack = f & frame::TCP_ACK != 0;
    if f & frame::TCP_RST != 0 {
        out.text("RST");
    } else if syn && ack {
        out.text("SYN-ACK");
    } else if syn {
        out.text("SYN");
    } else if f & frame::TCP_FIN != 0 {
        out.text("FIN");
    } else if g.payload_len == 0 {
        out.text("pure ACK");
    } else {
        out.num(g.payload_len as u64);
        out.text(" bytes of payload");
    }
}

/// Appends what the receiving port and NAPI did.
fn rx(out: &mut Comment, rx: &Rx) {
    let (slot, fate) = match *rx {
        Rx::None => return,
        Rx::RingDrop => {
            out.text("; rx ring full: dropped");
            return;
        }
        Rx::Slot { slot, fate } => (slot, fate),
    };
    out.text("; rx slot ");
    out.num(slot as u64);
    let Some(fate) = fate else {
        out.text(", not taken by NAPI before the run ended");
        return;
    };
    if fate.copybreak {
        out.text(", copybreak copy");
    }
    match fate.verdict {
        NapiVerdict::BadChecksum => out.text(", bad checksum: dropped"),
        NapiVerdict::Refused => out.text(", SYN before its own: dropped"),
        NapiVerdict::Stack { gro_merged, tcp } => {
            match gro_merged {
                Some(true) => out.text(", GRO merged"),
                Some(false) => out.text(", GRO: own skb"),
                None => {}
            }
            match tcp {
                Some(RxQueued::OutOfOrder) => out.text(", out of order"),
                Some(RxQueued::Duplicate) => out.text(", duplicate: dropped"),
                _ => {}
            }
        }
    }
}

/// Writes the comment of `frame`, crossing its port in direction `dir`,
/// into `out` (cleared first).
pub fn write(out: &mut Comment, dir: Direction, frame: &[u8], info: &FrameInfo) {
    out.len = 0;
    match info.origin {
        Origin::Model => {}
        Origin::Network => out.text("from the real network: "),
        Origin::Injected => out.text("injected: "),
    }
    match info.stream {
        Some(s) => {
            out.text("flow ");
            out.num(s.flow as u64);
            out.text(if s.echo { " echo bytes " } else { " bytes " });
            range(out, s.start, s.start + s.len as u64);
            out.text(" from ");
            let (shown, rest) = info.sources.shown();
            for (i, src) in shown.iter().enumerate() {
                if i > 0 {
                    out.text(", ");
                }
                source(out, src);
            }
            if let Some((more, last)) = rest {
                if more > 0 {
                    out.text(", ");
                    out.num(more as u64);
                    out.text(" more");
                }
                out.text(", ");
                source(out, &last);
            }
        }
        None => kind(out, frame),
    }
    via(out, info);
    if let (Direction::Out, Some(slot)) = (dir, info.tx_slot) {
        out.text("; tx slot ");
        out.num(slot as u64);
    }
    if info.retransmit {
        out.text("; retransmission");
    }
    if let Some(r) = info.rewritten {
        out.text("; REWRITTEN: ");
        out.num(r.bytes as u64);
        out.text(" of ");
        out.num(info.stream.map_or(0, |s| s.len as u64));
        out.text(" bytes differ from what was sent");
        if let Some(c) = r.culprit {
            out.text(": buf ");
            out.num(c.buffer as u64);
            out.text(" written again by send #");
            out.num(c.by);
            out.text(" while send #");
            out.num(c.of);
            out.text(" was in flight (lifetime violation)");
        }
    }
    let w = &info.wire;
    if w.lost {
        out.text("; lost on the wire after capture");
    }
    if w.duplicated {
        out.text("; duplicated on the wire");
    }
    if w.duplicate_copy {
        out.text("; duplicate made by the wire");
    }
    if w.reordered {
        out.text("; reordered on the wire");
    }
    if let Some(bit) = w.corrupt_bit {
        out.text("; corrupted on the wire, bit ");
        out.num(bit);
    }
    rx(out, &info.rx);
}

#[cfg(test)]
mod tests {
    use super::*;
    use simnet_sim::config::SendPath;
    use simnet_sim::provenance::{
        Culprit, NapiVerdict, Rewrite, RxFate, Sources, Stream, WireFate,
    };

    fn data(flow: u16, start: u64, len: u32, sources: &[Source]) -> FrameInfo {
        let mut s = Sources::default();
        for &src in sources {
            s.push(src);
        }
        FrameInfo {
            stream: Some(Stream {
                flow,
                start,
                len,
                echo: false,
            }),
            sources: s,
            ..FrameInfo::default()
        }
    }

    fn buf(b: u32, send: u64, from: u64, len: u32) -> Source {
        Source {
            holder: Holder::Buffer(b),
            send: Some(send),
            from,
            len,
        }
    }

    fn comment(dir: Direction, frame: &[u8], info: &FrameInfo) -> String {
        let mut c = Comment::default();
        c.text("stale text");
        write(&mut c, dir, frame, info);
        String::from_utf8(c.as_bytes().to_vec()).expect("ASCII")
    }

    /// A TCP frame with `flags` and `payload` bytes (no provenance needed).
    fn tcp(flags: u8, payload: usize) -> Vec<u8> {
        let mut f = vec![0u8; 54 + payload];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[16..18].copy_from_slice(&((40 + payload) as u16).to_be_bytes());
        f[23] = 6;
        f[46] = 0x50;
        f[47] = flags;
        f
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0, 7, 10, 99, 100, 101, 1448, 65536, u64::MAX] {
            let mut c = Comment::default();
            c.num(n);
            assert_eq!(c.as_bytes(), n.to_string().as_bytes());
        }
    }

    #[test]
    fn text_past_the_longest_comment_is_cut_not_a_panic() {
        let mut c = Comment::default();
        for _ in 0..MAX_LEN {
            c.text("abc");
            c.num(u64::MAX);
            c.byte(b'x');
        }
        assert!(c.as_bytes().len() <= MAX_LEN);
        assert!(c.as_bytes().len() > MAX_LEN - 25);
    }

    #[test]
    fn a_copied_frame_names_its_buffer_path_copies_and_tx_slot() {
        let info = FrameInfo {
            path: Some(SendPath::Write),
            via: Some(Via::Copied),
            copies: 1,
            tx_slot: Some(1),
            ..data(0, 0, 1448, &[buf(0, 0, 0, 1448)])
        };
        assert_eq!(
            comment(Direction::Out, &[], &info),
            "flow 0 bytes 0..1448 from buf 0 [0..1448) send #0; copied (write), 1 copy; tx slot 1"
        );
    }

    #[test]
    fn a_frame_of_two_buffers_names_both_and_a_frame_of_many_the_first_count_and_last() {
        let info = FrameInfo {
            path: Some(SendPath::MsgZerocopy),
            via: Some(Via::PinnedUserPages),
            tx_slot: Some(57),
            ..data(0, 65160, 1448, &[buf(0, 0, 65160, 376), buf(1, 1, 0, 1072)])
        };
        assert_eq!(
            comment(Direction::Out, &[], &info),
            "flow 0 bytes 65160..66608 from buf 0 [65160..65536) send #0, buf 1 [0..1072) send #1; \
             pinned user pages (msg_zerocopy), 0 copies; tx slot 57"
        );
        let many: Vec<Source> = (0..10).map(|k| buf(0, k, 0, 1)).collect();
        let c = comment(Direction::Out, &[], &data(2, 0, 10, &many));
        assert_eq!(
            c,
            "flow 2 bytes 0..10 from buf 0 [0..1) send #0, buf 0 [0..1) send #1, \
             buf 0 [0..1) send #2, 6 more, buf 0 [0..1) send #9"
        );
    }

    #[test]
    fn the_receiving_port_says_its_rx_slot_and_gro_not_the_tx_slot() {
        let fate = |verdict| Rx::Slot {
            slot: 17,
            fate: Some(RxFate {
                slot: 17,
                copybreak: false,
                verdict,
            }),
        };
        let mut info = FrameInfo {
            tx_slot: Some(3),
            rx: fate(NapiVerdict::Stack {
                gro_merged: Some(true),
                tcp: Some(RxQueued::InOrder),
            }),
            ..data(0, 0, 100, &[buf(0, 0, 0, 100)])
        };
        let c = comment(Direction::In, &[], &info);
        assert!(c.ends_with("send #0; rx slot 17, GRO merged"), "{c}");
        info.rx = fate(NapiVerdict::Stack {
            gro_merged: Some(false),
            tcp: Some(RxQueued::Duplicate),
        });
        let c = comment(Direction::In, &[], &info);
        assert!(
            c.ends_with("rx slot 17, GRO: own skb, duplicate: dropped"),
            "{c}"
        );
        info.rx = fate(NapiVerdict::BadChecksum);
        let c = comment(Direction::In, &[], &info);
        assert!(c.ends_with("rx slot 17, bad checksum: dropped"), "{c}");
        info.rx = Rx::Slot {
            slot: 4,
            fate: None,
        };
        let c = comment(Direction::In, &[], &info);
        assert!(c.ends_with("rx slot 4, not taken by NAPI before the run ended"));
        info.rx = Rx::RingDrop;
        let c = comment(Direction::In, &[], &info);
        assert!(c.ends_with("; rx ring full: dropped"), "{c}");
    }

    #[test]
    fn control_frames_say_what_they_are() {
        let none = FrameInfo {
            tx_slot: Some(9),
            ..FrameInfo::default()
        };
        let cases = [
            (frame::TCP_SYN, "SYN"),
            (frame::TCP_SYN | frame::TCP_ACK, "SYN-ACK"),
            (frame::TCP_ACK, "pure ACK"),
            (frame::TCP_FIN | frame::TCP_ACK, "FIN"),
            (frame::TCP_RST, "RST"),
        ];
        for (flags, what) in cases {
            let c = comment(Direction::Out, &tcp(flags, 0), &none);
            assert_eq!(c, format!("{what}; tx slot 9"));
        }
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(comment(Direction::In, &arp, &FrameInfo::default()), "ARP");
        assert_eq!(
            comment(Direction::In, &[1, 2, 3], &FrameInfo::default()),
            "not TCP"
        );
        let c = comment(
            Direction::In,
            &tcp(frame::TCP_ACK, 5),
            &FrameInfo::network(),
        );
        assert_eq!(c, "from the real network: 5 bytes of payload");
    }

    #[test]
    fn the_unusual_is_said_after_the_usual() {
        let info = FrameInfo {
            retransmit: true,
            rewritten: Some(Rewrite {
                bytes: 1402,
                culprit: Some(Culprit {
                    buffer: 3,
                    of: 3,
                    by: 11,
                }),
            }),
            wire: WireFate {
                lost: true,
                duplicated: true,
                duplicate_copy: true,
                reordered: true,
                corrupt_bit: Some(1234),
            },
            ..data(0, 196608, 1448, &[buf(3, 3, 0, 1448)])
        };
        assert_eq!(
            comment(Direction::Out, &[], &info),
            "flow 0 bytes 196608..198056 from buf 3 [0..1448) send #3; retransmission; \
             REWRITTEN: 1402 of 1448 bytes differ from what was sent: buf 3 written again by \
             send #11 while send #3 was in flight (lifetime violation); lost on the wire after \
             capture; duplicated on the wire; duplicate made by the wire; reordered on the wire; \
             corrupted on the wire, bit 1234"
        );
    }

    #[test]
    fn files_echo_and_fallback_copies_are_named() {
        let file = Source {
            holder: Holder::File,
            ..buf(0, 4, 0, 1448)
        };
        let info = FrameInfo {
            path: Some(SendPath::Sendfile),
            via: Some(Via::PageCache),
            ..data(0, 0, 1448, &[file])
        };
        let c = comment(Direction::Out, &[], &info);
        assert!(
            c.contains("from file [0..1448) send #4; page cache (sendfile), 0 copies"),
            "{c}"
        );
        let echo = Source {
            holder: Holder::Echo,
            send: None,
            from: 100,
            len: 50,
        };
        let mut info = FrameInfo {
            via: Some(Via::EchoCopied),
            copies: 3,
            ..data(1, 100, 50, &[echo])
        };
        info.stream.as_mut().unwrap().echo = true;
        assert_eq!(
            comment(Direction::Out, &[], &info),
            "flow 1 echo bytes 100..150 from echo buf [100..150); echo: read and written back, 3 copies"
        );
        let info = FrameInfo {
            path: Some(SendPath::MsgZerocopy),
            via: Some(Via::CopiedFallback),
            copies: 1,
            ..data(0, 0, 10, &[buf(0, 0, 0, 10)])
        };
        let c = comment(Direction::Out, &[], &info);
        assert!(c.ends_with("copied-fallback (zero-copy frags copied for a software checksum) (msg_zerocopy), 1 copy"), "{c}");
    }
}
