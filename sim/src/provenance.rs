//! Where a frame's bytes came from and what befell it: the record the model
//! hands to observers with every frame that crosses a port.
//!
//! Owns [`FrameInfo`] — the stream bytes a frame carries and the send calls
//! (application buffers, the file, an echo server's buffer) they came from,
//! the send path and the copies its bytes have had, its Tx ring slot,
//! whether it is a retransmission, bytes a lifetime violation rewrote, what
//! the wire did to it, and on the receiving port its Rx ring slot and what
//! NAPI did with it (GRO merge, bad checksum) — with [`TxTag`], the part of
//! it that rides with a frame from the driver to the port, and [`CallLog`],
//! a sending socket's record of which call wrote each stretch of its stream.
//!
//! All of it is kept only while an observer wants frames
//! ([`crate::event::Observer::wants_frames`]): the call log records nothing
//! otherwise, and nothing here changes what the model does. Does not format
//! anything: the tool writes it as a capture comment.

use std::cell::Cell;
use std::collections::VecDeque;

use crate::app::send::Memory;
use crate::config::SendPath;
use crate::host::Host;
use crate::nic::ring::Payload;
use crate::socket::skb::RxQueued;
use crate::socket::End;

/// Where the bytes of one send call were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Holder {
    /// Application buffer `n` of the flow's sender.
    Buffer(u32),
    /// The file sendfile or splice sends, from the page cache.
    File,
    /// An echo server's buffer, written back.
    Echo,
    /// Not known (a bug in the model: the test suite checks it never
    /// shows).
    #[default]
    Unknown,
}

/// One piece of a frame's payload: `len` bytes at offset `from` of send
/// call number `send` (counted from 0, as the report counts them) of
/// `holder`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Source {
    pub holder: Holder,
    /// The send call; `None` for an echo server's write-back.
    pub send: Option<u64>,
    /// Offset of the piece in the call's bytes (in its buffer, for a plain
    /// write).
    pub from: u64,
    pub len: u32,
}

/// Pieces a frame is described by in full; a frame made of more send calls
/// is shown by its first ones, how many were left out and its last.
pub const SHOWN_SOURCES: usize = 3;

/// The send calls a frame's payload came from, in stream order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sources {
    first: [Source; SHOWN_SOURCES],
    last: Source,
    count: u32,
}

impl Sources {
    pub fn push(&mut self, s: Source) {
        if (self.count as usize) < SHOWN_SOURCES {
            self.first[self.count as usize] = s;
        }
        self.last = s;
        self.count += 1;
    }

    /// The pieces to show: the first ones, and, if more than
    /// `SHOWN_SOURCES + 1` pieces, how many were left out and the last.
    pub fn shown(&self) -> (&[Source], Option<(u32, Source)>) {
        let n = self.count as usize;
        if n <= SHOWN_SOURCES {
            return (&self.first[..n], None);
        }
        if n == SHOWN_SOURCES + 1 {
            // The last fits where "N more" would go.
            return (&self.first, Some((0, self.last)));
        }
        (
            &self.first,
            Some(((n - SHOWN_SOURCES - 1) as u32, self.last)),
        )
    }
}

/// How the sending kernel held a frame's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Copied into kernel page frags by the call (`copy_from_user`).
    Copied,
    /// The application's pages, pinned by the call.
    PinnedUserPages,
    /// The application's pages, registered (pinned) once beforehand.
    RegisteredBuffer,
    /// Page-cache pages of the file.
    PageCache,
    /// Zero-copy frags the kernel copied after all: a software checksum
    /// may not read pages the application can change
    /// (`skb_checksum_help`, shared frags).
    CopiedFallback,
    /// An echo server's write-back: read, then written (copied) back.
    EchoCopied,
}

impl Via {
    /// How the path `path` holds its bytes.
    pub fn of(path: SendPath) -> Via {
        match path.call().memory() {
            Memory::Copied => Via::Copied,
            Memory::PageCache => Via::PageCache,
            Memory::UserPages if path == SendPath::IoUringFixed => Via::RegisteredBuffer,
            Memory::UserPages => Via::PinnedUserPages,
        }
    }

    /// Copies by the CPU the bytes had on the sending host when they left.
    pub fn copies(self) -> u8 {
        match self {
            Via::Copied | Via::CopiedFallback => 1,
            Via::PinnedUserPages | Via::RegisteredBuffer | Via::PageCache => 0,
            // copy_to_user of the server's read, copy_from_user of its write
            // (the client's own copy is counted by the echo server's
            // receiver, which knows the flow's path).
            Via::EchoCopied => 2,
        }
    }
}

/// The stream bytes a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream {
    pub flow: u16,
    pub start: u64,
    pub len: u32,
    /// The echo server's return stream, not the flow's data.
    pub echo: bool,
}

/// Bytes of a frame a lifetime violation changed: `bytes` of its payload
/// differ from what the send calls wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewrite {
    pub bytes: u32,
    /// Who changed them: the application wrote into `buffer` again (send
    /// call `by`) while send `of`, whose bytes the frame carries, was still
    /// in flight. (Always found in the model; `None` would say the bytes
    /// changed some other way.)
    pub culprit: Option<Culprit>,
}

/// The buffer a lifetime violation rewrote, and the two sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Culprit {
    pub buffer: u32,
    pub of: u64,
    pub by: u64,
}

/// What the wire did to a frame on its way to the next port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WireFate {
    /// Lost on the wire after it left the port.
    pub lost: bool,
    /// A copy follows it.
    pub duplicated: bool,
    /// This is the copy the wire made.
    pub duplicate_copy: bool,
    /// Held back on the wire (`reorder`).
    pub reordered: bool,
    /// Bit flipped on the wire.
    pub corrupt_bit: Option<u64>,
}

/// What NAPI did with a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NapiVerdict {
    /// A checksum was wrong: dropped.
    BadChecksum,
    /// A SYN before the connecting socket's own SYN: dropped (see
    /// [`crate::socket::syn_before_own_syn`]).
    Refused,
    /// Went up the stack: merged by GRO into the open sk_buff (`Some(true)`),
    /// an sk_buff of its own (`Some(false)`), GRO off (`None`); and TCP's
    /// verdict on its data, if it carried any for a socket here.
    Stack {
        gro_merged: Option<bool>,
        tcp: Option<RxQueued>,
    },
}

/// A received frame's fate in NAPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxFate {
    /// The Rx ring slot it was taken from.
    pub slot: u16,
    /// Copied into a fresh sk_buff (below `copybreak`).
    pub copybreak: bool,
    pub verdict: NapiVerdict,
}

/// What the receiving port did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rx {
    /// Not a received frame.
    #[default]
    None,
    /// No Rx descriptor was free (or the frame was too long): dropped.
    RingDrop,
    /// DMA-written into Rx ring slot `slot`; `fate` once NAPI has taken it
    /// (`None` if the run ended first).
    Slot { slot: u16, fate: Option<RxFate> },
}

/// Where NAPI tells, while an observer wants frames, what it did with each
/// frame it takes from host `host`'s Rx ring, with the frame as it took it
/// (the world's record of its ports, which hands it to observers).
pub trait RxTap {
    fn taken(&mut self, host: usize, frame: &[u8], fate: RxFate);
}

/// Who made a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// A simulated host.
    #[default]
    Model,
    /// The real network, through a TAP device.
    Network,
    /// Put on the wire by a test or fuzzer ([`crate::world::World::inject_arrival`]).
    Injected,
}

/// Everything the model knows about one frame at a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameInfo {
    pub origin: Origin,
    /// The stream bytes of its payload, if it carries any the model knows.
    pub stream: Option<Stream>,
    /// Where those bytes came from.
    pub sources: Sources,
    /// The sending flow's path (not for an echo write-back).
    pub path: Option<SendPath>,
    pub via: Option<Via>,
    /// Copies by the CPU so far.
    pub copies: u8,
    /// The Tx ring slot of its last descriptor (the frame's EOP slot, or the
    /// super-segment's it was cut from by TSO).
    pub tx_slot: Option<u16>,
    /// It carries stream bytes sent before.
    pub retransmit: bool,
    pub rewritten: Option<Rewrite>,
    pub wire: WireFate,
    pub rx: Rx,
}

impl FrameInfo {
    /// A frame from the real network.
    pub fn network() -> FrameInfo {
        FrameInfo {
            origin: Origin::Network,
            ..FrameInfo::default()
        }
    }

    /// A frame a test or fuzzer injected.
    pub fn injected() -> FrameInfo {
        FrameInfo {
            origin: Origin::Injected,
            ..FrameInfo::default()
        }
    }

    /// Whether anything about the frame is still to come (a received
    /// frame NAPI has not taken yet).
    pub fn pending(&self) -> bool {
        matches!(self.rx, Rx::Slot { fate: None, .. })
    }
}

/// What rides with a frame from the driver to the port, while an observer
/// wants frames: its stream bytes, its Tx ring slot and what happened to it
/// on the way (kept beside the Tx ring and the NIC's Tx FIFO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxTag {
    /// A flow's stream bytes, or (with `echo`) an echo server's return
    /// stream; the socket is the sending one.
    pub payload: Option<Payload>,
    pub echo: bool,
    pub slot: Option<u16>,
    pub retransmit: bool,
    /// The zero-copy frags were copied for a software checksum.
    pub checksum_copy: bool,
}

impl TxTag {
    /// The tag of segment `k` of the super-segment this tags, cut at `mss`
    /// (0: not cut, the tag itself).
    pub fn segment(&self, k: usize, mss: usize) -> TxTag {
        if mss == 0 {
            return *self;
        }
        let payload = self.payload.and_then(|p| {
            let from = (k * mss) as u64;
            let len = (p.len as u64).checked_sub(from)?.min(mss as u64);
            Some(Payload {
                off: p.off + from,
                len: len as u32,
                ..p
            })
        });
        TxTag { payload, ..*self }
    }
}

/// One send call in the log.
#[derive(Debug, Clone, Copy)]
struct Call {
    start: u64,
    holder: Holder,
    send: u64,
}

/// A sending socket's send calls in stream order: which call (and buffer)
/// wrote each stretch of the stream, so that a frame's payload can name
/// them. Records nothing unless enabled (an observer wants frames); keeps
/// only calls whose bytes can still be transmitted ([`trim`]).
#[derive(Debug, Default)]
pub struct CallLog {
    enabled: bool,
    calls: VecDeque<Call>,
    /// Where the last lookup began: frames mostly move forward through the
    /// stream, so the next one usually begins at or just after it.
    hint: Cell<usize>,
    /// Length at which the next trim is tried.
    trim_at: usize,
}

/// Calls kept before the first trim is tried.
const TRIM_FLOOR: usize = 64;

impl CallLog {
    pub fn enable(&mut self) {
        self.enabled = true;
        self.trim_at = TRIM_FLOOR;
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Send call number `send` writes stream bytes from `start` on, from
    /// `holder`.
    pub fn record(&mut self, start: u64, holder: Holder, send: u64) {
        if self.enabled {
            self.calls.push_back(Call {
                start,
                holder,
                send,
            });
        }
    }

    /// The calls that wrote stream bytes `[off, off + len)`.
    pub fn sources(&self, off: u64, len: u32) -> Sources {
        let mut out = Sources::default();
        self.each(off, len, |s| out.push(s));
        out
    }

    /// Calls `f` with each piece of stream bytes `[off, off + len)` and the
    /// call that wrote it, in order; one unknown piece if the bytes lie
    /// before the first call kept (see [`trim_calls`]).
    pub fn each(&self, off: u64, len: u32, mut f: impl FnMut(Source)) {
        let end = off + len as u64;
        let i = self.first_after(off);
        if i == 0 {
            f(Source {
                len,
                ..Source::default()
            });
            return;
        }
        let mut at = off;
        for (j, c) in self.calls.range(i - 1..).enumerate() {
            if at >= end {
                break;
            }
            let next = self.calls.get(i + j).map_or(u64::MAX, |n| n.start);
            let to = end.min(next);
            f(Source {
                holder: c.holder,
                send: Some(c.send),
                from: at - c.start,
                len: (to - at) as u32,
            });
            at = to;
        }
    }

    /// Index of the first call starting after stream offset `off`.
    fn first_after(&self, off: u64) -> usize {
        let starts_after = |i: usize| self.calls.get(i).is_none_or(|c| c.start > off);
        let h = self.hint.get();
        let i = if h > 0 && h <= self.calls.len() && !starts_after(h - 1) && starts_after(h) {
            h
        } else if h < self.calls.len() && !starts_after(h) && starts_after(h + 1) {
            h + 1
        } else {
            self.calls.partition_point(|c| c.start <= off)
        };
        self.hint.set(i);
        i
    }

    /// Whether the log has grown enough to try a trim.
    pub fn wants_trim(&self) -> bool {
        self.enabled && self.calls.len() >= self.trim_at
    }

    /// Forgets the calls whose bytes all lie below stream offset `below`.
    /// The next trim is tried when the log has doubled (at least
    /// `TRIM_FLOOR`): each call is looked at a bounded number of times.
    pub fn trim(&mut self, below: u64) {
        let mut dropped = 0;
        while self.calls.len() > 1 && self.calls[1].start <= below {
            self.calls.pop_front();
            dropped += 1;
        }
        self.hint.set(self.hint.get().saturating_sub(dropped));
        self.trim_at = (2 * self.calls.len()).max(TRIM_FLOOR);
    }
}

/// The log of sending socket `sock` on `host` may be trimmed: forget the
/// calls below both what TCP has had acknowledged and every frame still in
/// the driver, the Tx ring or the NIC's FIFO (a retransmission waiting
/// there may carry bytes acknowledged since). Frames waiting in the qdisc
/// are not attributed yet: nothing is trimmed while there are any.
pub fn trim_calls(host: &mut Host, sock: usize) {
    let Some(s) = host.sockets[sock].end.sender() else {
        return;
    };
    if !s.calls.wants_trim() || !host.driver.qdisc.is_empty() {
        return;
    }
    let mut below = s.acked;
    let mine = |p: &Option<Payload>| p.filter(|p| p.sock as usize == sock).map(|p| p.off);
    for info in &host.nic.tx.info {
        if let Some(off) = mine(&info.payload) {
            below = below.min(off);
        }
    }
    for tag in host.nic.staged_tags() {
        if let (Some(off), false) = (mine(&tag.payload), tag.echo) {
            below = below.min(off);
        }
    }
    host.sockets[sock].end.sender_mut().calls.trim(below);
}

/// The info of a frame leaving `host`'s port with tag `tag` and the bytes
/// a lifetime violation rewrote (the wire's verdict is added by the
/// caller).
pub fn sent(host: &Host, tag: &TxTag, rewritten: Option<Rewrite>) -> FrameInfo {
    let mut info = FrameInfo {
        tx_slot: tag.slot,
        retransmit: tag.retransmit,
        rewritten,
        ..FrameInfo::default()
    };
    let Some(p) = tag.payload else {
        return info;
    };
    info.stream = Some(Stream {
        flow: p.flow,
        start: p.off,
        len: p.len,
        echo: tag.echo,
    });
    match (&host.sockets[p.sock as usize].end, tag.echo) {
        (End::Send(s), false) => {
            info.path = Some(s.path);
            let via = if tag.checksum_copy {
                Via::CopiedFallback
            } else {
                Via::of(s.path)
            };
            info.via = Some(via);
            info.copies = via.copies();
            info.sources = s.calls.sources(p.off, p.len);
        }
        (End::Recv(r), true) => {
            info.via = Some(Via::EchoCopied);
            info.copies = r.echo.as_ref().map_or(0, |e| e.copies);
            info.sources.push(Source {
                holder: Holder::Echo,
                send: None,
                from: p.off,
                len: p.len,
            });
        }
        _ => {}
    }
    info
}

/// Whether the stream bytes of payload `p` (the last `p.len` bytes of
/// `frame`, sent by a zero-copy socket whose application may rewrite its
/// buffers) differ from what the send calls wrote, and if so which buffer
/// was written into again, by which call. Only asked while an observer
/// wants frames.
pub fn rewritten(host: &Host, p: &Payload, frame: &[u8]) -> Option<Rewrite> {
    let s = host.sockets[p.sock as usize].end.sender()?;
    if !s.keeps_bytes() || frame.len() < p.len as usize {
        return None;
    }
    let payload = &frame[frame.len() - p.len as usize..];
    let bytes = s.data.count_differences(p.off, payload);
    if bytes == 0 {
        return None;
    }
    // The first buffer whose latest send (a zero-copy notification id, which
    // counts sends as the log does, modulo 2^32) is not the one the frame
    // carries.
    let mut culprit = None;
    s.calls.each(p.off, p.len, |src| {
        let (Holder::Buffer(buffer), Some(of), None) = (src.holder, src.send, culprit) else {
            return;
        };
        let Some(latest) = s.pool.get(buffer).last_send else {
            return;
        };
        let later = latest.wrapping_sub(of as u32);
        if later != 0 {
            culprit = Some(Culprit {
                buffer,
                of,
                by: of + later as u64,
            });
        }
    });
    Some(Rewrite { bytes, culprit })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(calls: &[(u64, u32)]) -> CallLog {
        let mut l = CallLog::default();
        l.enable();
        for (i, &(start, b)) in calls.iter().enumerate() {
            l.record(start, Holder::Buffer(b), i as u64);
        }
        l
    }

    #[test]
    fn a_frame_names_each_call_its_bytes_came_from() {
        let l = log(&[(0, 0), (1000, 1), (2000, 0)]);
        let s = l.sources(900, 1448);
        let (shown, rest) = s.shown();
        assert_eq!(rest, None);
        assert_eq!(
            shown,
            [
                Source {
                    holder: Holder::Buffer(0),
                    send: Some(0),
                    from: 900,
                    len: 100
                },
                Source {
                    holder: Holder::Buffer(1),
                    send: Some(1),
                    from: 0,
                    len: 1000
                },
                Source {
                    holder: Holder::Buffer(0),
                    send: Some(2),
                    from: 0,
                    len: 348
                },
            ]
        );
    }

    #[test]
    fn many_calls_show_the_first_the_count_and_the_last() {
        let calls: Vec<(u64, u32)> = (0..100).map(|i| (i, 0)).collect();
        let l = log(&calls);
        let s = l.sources(10, 50);
        assert_eq!(s.count, 50);
        let (shown, rest) = s.shown();
        assert_eq!(shown.len(), SHOWN_SOURCES);
        assert_eq!(shown[0].send, Some(10));
        let (left_out, last) = rest.unwrap();
        assert_eq!(left_out, 46);
        assert_eq!(last.send, Some(59));
        // One more than shown: the last takes the place of "0 more".
        let s = l.sources(10, 4);
        assert_eq!(s.shown().1, Some((0, s.last)));
    }

    #[test]
    fn a_disabled_log_records_nothing_and_a_trim_keeps_the_call_holding_the_offset() {
        let mut l = CallLog::default();
        l.record(0, Holder::File, 0);
        assert!(l.calls.is_empty() && !l.wants_trim());
        let mut l = log(&[(0, 0), (100, 1), (200, 2), (300, 3)]);
        l.trim(250);
        assert_eq!(l.calls.len(), 2, "the call holding byte 250 stays");
        assert_eq!(l.sources(250, 10).shown().0[0].holder, Holder::Buffer(2));
        // Below what is kept: unknown, never a wrong buffer.
        assert_eq!(l.sources(50, 10).shown().0[0].holder, Holder::Unknown);
    }

    #[test]
    fn a_segments_tag_carries_its_own_bytes() {
        let tag = TxTag {
            payload: Some(Payload {
                sock: 0,
                flow: 0,
                off: 1000,
                len: 3000,
            }),
            slot: Some(7),
            ..TxTag::default()
        };
        let lens: Vec<(u64, u32)> = (0..3)
            .map(|k| {
                tag.segment(k, 1448)
                    .payload
                    .map(|p| (p.off, p.len))
                    .unwrap()
            })
            .collect();
        assert_eq!(lens, [(1000, 1448), (2448, 1448), (3896, 104)]);
        assert_eq!(tag.segment(2, 1448).slot, Some(7));
    }

    #[test]
    fn each_path_says_how_its_bytes_were_held_and_copied() {
        assert_eq!(Via::of(SendPath::Write), Via::Copied);
        assert_eq!(Via::of(SendPath::MsgZerocopy), Via::PinnedUserPages);
        assert_eq!(Via::of(SendPath::IoUringFixed), Via::RegisteredBuffer);
        assert_eq!(Via::of(SendPath::Sendfile), Via::PageCache);
        assert_eq!(Via::of(SendPath::Write).copies(), 1);
        assert_eq!(Via::of(SendPath::MsgZerocopy).copies(), 0);
        assert_eq!(Via::CopiedFallback.copies(), 1);
    }
}
