//! `simnet trace`: the journey of one application buffer.
//!
//! Owns [`Trace`], an [`Observer`] that follows one buffer of one flow: it
//! learns which stream bytes the buffer held from the send calls that used
//! it (their provenance), then keeps every event whose bytes overlap them —
//! copies, pins, sk_buff frags, Tx descriptors and their ring slots, DMA,
//! the receiver's Rx slots and stack, the peer's read, and the completion
//! chain of a zero-copy send: the sk_buffs freed on ACK, each Tx clean that
//! drops a clone, `put_page`, the notification and the call that reaps it —
//! and every frame that carried them or acknowledged them, numbered as in
//! the capture files of the same run. For each use it ties the chain
//! together ([`Chain`]): the ACK that covered the buffer's last byte, the
//! last reference dropped, how long the pages stayed pinned, and, when the
//! application rewrote the buffer too early, the frames that carried the
//! rewritten bytes. It writes the journey as text ([`Trace::render`]) or as
//! JSON ([`Trace::json`]; its shape is documented in docs/scenario.md, "The
//! trace JSON").
//!
//! Does not interpret the model beyond that: it prints the steps the model
//! accounted, with their names, and the frames as a capture holds them.

use std::fmt::Write as _;

use serde::Serialize;
use simnet_sim::event::{Direction, Event, Kind, Observer, Sample, Step};
use simnet_sim::frame;
use simnet_sim::provenance::FrameInfo;
use simnet_sim::Nanos;

use crate::output::{human_bytes, human_ns, printable};

/// A frame in a capture: whose port, its number there (from 1), when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameRef {
    host: usize,
    number: u64,
    time: Nanos,
}

/// What one line of the journey is.
#[derive(Debug, Clone)]
enum What {
    /// An event the model accounted.
    Step(Event),
    /// A frame carrying stream bytes `[a, b)`.
    Data {
        frame: FrameRef,
        dir: Direction,
        stream: (u64, u64),
        /// Its payload is bytes the application wrote after the send: the
        /// lifetime bug on the wire.
        rewritten: bool,
    },
    /// A frame acknowledging every stream byte below `ack`.
    Ack {
        frame: FrameRef,
        dir: Direction,
        ack: u64,
        /// The uses whose last byte it is the first to cover.
        covers: Vec<usize>,
        /// The uses whose zero-copy notification's last byte (beyond the
        /// use's own) it is the first to cover.
        completes: Vec<usize>,
    },
}

/// One line of the journey.
#[derive(Debug, Clone)]
struct Item {
    time: Nanos,
    host: usize,
    what: What,
    /// For a buffer's return without stream bytes (a zero-copy buffer back
    /// in its pool): the use it ended.
    ends_use: Option<usize>,
}

impl Item {
    /// Where the item goes in the journey: by time, a frame before a step.
    fn order(&self) -> (Nanos, bool) {
        (self.time, matches!(self.what, What::Step(_)))
    }
}

/// Follows buffer `buffer` of flow `flow`.
pub struct Trace {
    flow: u16,
    buffer: u32,
    /// Which use of the buffer to show (the k-th send call from it), or all.
    use_index: Option<usize>,
    hosts: Vec<String>,
    /// The flow's sending and receiving hosts.
    sender: usize,
    receiver: usize,
    /// The receiver's port and the sender's (the flow's frames have both).
    port: u16,
    client_port: u16,
    /// Stream ranges the buffer held, one per send call that used it.
    ranges: Vec<(u64, u64)>,
    /// Frames seen per host (capture frame numbers start at 1).
    frames: Vec<u64>,
    /// The data sender's ISN, from its SYN on the wire.
    isn: Option<u32>,
    /// Last acknowledgement seen per host, to undo 32-bit wrap-around.
    last_ack: Vec<u64>,
    /// Every ACK that acknowledged new bytes, per side (0: as it left the
    /// receiver, 1: as it reached the sender), in order: the
    /// acknowledgement and the frame. What covered a byte is found here.
    acked: [Vec<(u64, FrameRef)>; 2],
    items: Vec<Item>,
}

/// Whether `[a, b)` and `[c, d)` share a byte.
fn overlaps((a, b): (u64, u64), (c, d): (u64, u64)) -> bool {
    a < d && c < b
}

/// `host-eth0.pcapng`, the capture file a frame number refers to.
fn capture_name(host: &str) -> String {
    format!("{}-eth0.pcapng", printable(host))
}

impl Trace {
    /// Follows buffer `buffer` of flow `flow`, sent from host `sender` to
    /// port `port` of host `receiver`; `hosts` are every host's name.
    pub fn new(
        flow: u16,
        buffer: u32,
        use_index: Option<usize>,
        hosts: Vec<String>,
        (sender, receiver): (usize, usize),
        port: u16,
    ) -> Trace {
        let n = hosts.len();
        Trace {
            flow,
            buffer,
            use_index,
            hosts,
            sender,
            receiver,
            port,
            client_port: simnet_sim::flow::client_port(flow as usize),
            ranges: Vec::new(),
            frames: vec![0; n],
            isn: None,
            last_ack: vec![0; n],
            acked: [Vec::new(), Vec::new()],
            items: Vec::new(),
        }
    }

    /// Whether use `k` is one the trace shows.
    fn shows(&self, k: usize) -> bool {
        self.use_index.is_none_or(|u| u == k)
    }

    /// Whether stream bytes `[a, b)` overlap the buffer's (selected) uses.
    fn concerns(&self, a: u64, b: u64) -> bool {
        let i = self.ranges.partition_point(|r| r.1 <= a);
        let hit = |j: usize| self.ranges.get(j).is_some_and(|r| r.0 < b);
        match self.use_index {
            Some(k) => i == k && hit(i),
            None => hit(i),
        }
    }

    /// How many send calls used the buffer (all of them, whichever use is
    /// shown).
    pub fn uses(&self) -> usize {
        self.ranges.len()
    }

    /// The uses shown, in order.
    fn shown(&self) -> Vec<usize> {
        (0..self.ranges.len()).filter(|&k| self.shows(k)).collect()
    }

    fn push(&mut self, time: Nanos, host: usize, what: What) {
        self.items.push(Item {
            time,
            host,
            what,
            ends_use: None,
        });
    }

    /// The items in time order (events arrive as the model runs, a
    /// received frame once NAPI has taken it): a frame crossing a port
    /// before the steps taken at the same nanosecond.
    fn sorted(&self) -> Vec<&Item> {
        let mut lines: Vec<&Item> = self.items.iter().collect();
        lines.sort_by_key(|l| l.order());
        lines
    }

    /// The journey's lines, in time order: the items, and for each use
    /// whose notification also covered later sends, the ACK that covered
    /// the notification's last byte (marked on the ACK line when it is
    /// there already).
    fn timeline(&self, chains: &[Chain]) -> Vec<Item> {
        let mut items = self.items.clone();
        // The ACK lines by frame (host, number), found once.
        let mut ack_at: std::collections::BTreeMap<(usize, u64), usize> = (items.iter())
            .enumerate()
            .filter_map(|(i, l)| match &l.what {
                What::Ack { frame: f, .. } => Some(((f.host, f.number), i)),
                _ => None,
            })
            .collect();
        for c in chains {
            let acks = [c.notification_ack_sent, c.notification_ack_received];
            for (side, ack) in acks.into_iter().enumerate() {
                let Some((frame, ack)) = ack else {
                    continue;
                };
                let known = ack_at.get(&(frame.host, frame.number));
                match known.map(|&i| &mut items[i].what) {
                    Some(What::Ack { completes, .. }) => completes.push(c.use_index),
                    _ => {
                        ack_at.insert((frame.host, frame.number), items.len());
                        items.push(Item {
                            time: frame.time,
                            host: frame.host,
                            what: What::Ack {
                                frame,
                                dir: if side == 0 {
                                    Direction::Out
                                } else {
                                    Direction::In
                                },
                                ack,
                                covers: Vec::new(),
                                completes: vec![c.use_index],
                            },
                            ends_use: None,
                        })
                    }
                }
            }
        }
        items.sort_by_key(|l| l.order());
        items
    }

    /// A frame's reference, as text: `frame #N of HOST-eth0.pcapng`.
    fn frame_text(&self, f: &FrameRef) -> String {
        format!(
            "frame #{} of {}",
            f.number,
            capture_name(&self.hosts[f.host])
        )
    }

    /// The chains of the uses shown.
    fn chains(&self) -> Vec<Chain> {
        let sorted = self.sorted();
        (self.shown().into_iter())
            .map(|k| self.chain(k, &sorted))
            .collect()
    }

    /// The journey, as text.
    pub fn render(&self, captures: &[String], no_pcap: bool) -> String {
        let mut o = String::new();
        let uses = self.ranges.len();
        let _ = writeln!(
            o,
            "journey of buffer {} of flow {} ({} use{} of it; {})",
            self.buffer,
            self.flow,
            uses,
            if uses == 1 { "" } else { "s" },
            match self.use_index {
                Some(k) => format!("showing use {k}, --all for every use"),
                None => "showing every use".into(),
            }
        );
        if let Some(k) = self.use_index {
            if let Some(r) = self.ranges.get(k) {
                let _ = writeln!(o, "stream bytes {}..{}", r.0, r.1);
            } else {
                let _ = writeln!(o, "the buffer was used {uses} times: there is no use {k}");
                return o;
            }
        }
        for c in captures {
            let _ = writeln!(o, "capture: {}", printable(c));
        }
        if no_pcap {
            let _ = writeln!(
                o,
                "frame numbers: as in the captures this run would write (--no-pcap: none written)"
            );
        }
        let chains = self.chains();
        let _ = writeln!(o, "{:>12}  {:<9} step", "time", "host");
        for l in self.timeline(&chains) {
            let _ = writeln!(
                o,
                "{:>12}  {:<9} {}",
                human_ns(l.time),
                printable(&self.hosts[l.host]),
                self.line_text(&l)
            );
        }
        for c in &chains {
            self.chain_text(&mut o, c);
        }
        o
    }

    fn line_text(&self, l: &Item) -> String {
        let way = |dir: &Direction| match dir {
            Direction::Out => "leaves",
            Direction::In => "arrives",
        };
        match &l.what {
            What::Step(e) => {
                let amount = match e.step {
                    // Its bytes column counts the sends the call reaped.
                    Step::ErrqueueSyscall => {
                        format!("({} send{})", e.bytes, if e.bytes == 1 { "" } else { "s" })
                    }
                    _ => human_bytes(e.bytes),
                };
                let mut text = format!(
                    "{:<12} {:<14} x{} {}  {}",
                    e.step.stage(),
                    e.step.kind().name(),
                    e.count,
                    amount,
                    e.step.models()
                );
                if let Some((_, a, b)) = e.ctx.range() {
                    let _ = write!(text, "  [stream {a}..{b}]");
                }
                if let Some(slot) = e.ctx.slot() {
                    let _ = write!(text, "  [ring slot {slot}]");
                }
                if e.cpu_ns > 0 {
                    let _ = write!(text, "  [cpu {}]", human_ns(e.cpu_ns));
                }
                if e.step.kind() == Kind::Violation {
                    text.push_str("  <-- LIFETIME VIOLATION");
                }
                text
            }
            What::Data {
                frame,
                dir,
                stream: (a, b),
                rewritten,
            } => {
                let mut text = format!(
                    "{:<12} {:<14} {} {}: {} of payload  [stream {a}..{b}]",
                    "wire",
                    "frame",
                    self.frame_text(frame),
                    way(dir),
                    human_bytes(b - a)
                );
                if *rewritten {
                    text.push_str("  <-- REWRITTEN BYTES: not what the send was for");
                }
                text
            }
            What::Ack {
                frame,
                dir,
                ack,
                covers,
                completes,
            } => {
                let mut text = format!(
                    "{:<12} {:<14} {} {}: ACK of every byte below {ack}",
                    "wire",
                    "ack",
                    self.frame_text(frame),
                    way(dir)
                );
                for k in covers.iter().filter(|&&k| self.shows(k)) {
                    let _ = write!(text, "  [covers the last byte of use {k}]");
                }
                for k in completes {
                    let _ = write!(text, "  [covers the last byte of use {k}'s notification]");
                }
                text
            }
        }
    }

    /// How use `k` ended: the completion chain, from the model's events
    /// and the frames.
    /// `sorted`: the items in order ([`Trace::sorted`]), sorted once for
    /// every use.
    fn chain(&self, k: usize, sorted: &[&Item]) -> Chain {
        let r = self.ranges[k];
        let mut c = Chain {
            use_index: k,
            stream: r,
            ..Chain::default()
        };
        let ev_range = |e: &Event| e.ctx.range().map(|(_, a, b)| (a, b));
        for &l in sorted {
            match &l.what {
                What::Step(e) => {
                    let Some(er) = ev_range(e) else {
                        if e.step == Step::BufferReturned && l.ends_use == Some(k) {
                            c.returned.get_or_insert(l.time);
                        }
                        continue;
                    };
                    if !overlaps(er, r) {
                        continue;
                    }
                    let t = l.time;
                    match e.step {
                        s if s.stage() == "app->socket"
                            && matches!(s.kind(), Kind::Syscall | Kind::Handler) =>
                        {
                            c.sent.get_or_insert((t, s));
                        }
                        Step::GetUserPages => {
                            c.pinned.get_or_insert(t);
                            c.pages_pinned += e.count;
                        }
                        Step::TxClean => c.clone_freed = Some((t, e.ctx.slot())),
                        Step::SkbFreeAcked => c.skbs_freed = Some(t),
                        Step::PutUserPages if c.unpinned.is_none() => {
                            c.unpinned = Some(t);
                            c.pages_unpinned = e.count;
                            c.notification = Some(er);
                        }
                        Step::ZerocopyComplete => {
                            c.notified.get_or_insert(t);
                        }
                        Step::ErrqueueSyscall | Step::IoUringCqe
                            if c.reaped.is_none() && c.notified.is_some_and(|n| n <= t) =>
                        {
                            let sends = match e.step {
                                Step::ErrqueueSyscall => e.bytes,
                                _ => e.count,
                            };
                            c.reaped = Some((t, e.step, sends));
                        }
                        Step::BufferComplete if er == r => {
                            c.complete.get_or_insert(t);
                        }
                        Step::BufferReturned if er == r => {
                            c.returned.get_or_insert(t);
                        }
                        Step::BufferRewritten => c.rewrites.push((t, er)),
                        _ => {}
                    }
                }
                What::Data {
                    frame,
                    dir: Direction::Out,
                    stream,
                    rewritten,
                } if frame.host == self.sender && overlaps(*stream, r) => {
                    c.last_frame = Some(*frame);
                    if *rewritten {
                        c.rewritten_frames.push(*frame);
                    }
                }
                _ => {}
            }
        }
        c.ack_sent = self.first_ack(0, r.1);
        c.ack_received = self.first_ack(1, r.1);
        if let Some((_, end)) = c.notification.filter(|n| n.1 > r.1) {
            c.notification_ack_sent = self.first_ack(0, end);
            c.notification_ack_received = self.first_ack(1, end);
        }
        c
    }

    fn chain_text(&self, o: &mut String, c: &Chain) {
        let (a, b) = c.stream;
        let _ = writeln!(
            o,
            "\nuse {} (stream bytes {a}..{b}), from the send call to the buffer's return:",
            c.use_index
        );
        let mut rows: Vec<(Nanos, &str, String)> = Vec::new();
        if let Some((t, s)) = c.sent {
            rows.push((t, "send call", s.models().to_string()));
        }
        if let Some(t) = c.pinned {
            let text = format!("{} pages (get_user_pages_fast)", c.pages_pinned);
            rows.push((t, "pinned", text));
        }
        for (t, (x, y)) in &c.rewrites {
            let text = format!(
                "the application wrote into the buffer while stream bytes {x}..{y} were in flight"
            );
            rows.push((*t, "REWRITTEN", text));
        }
        if let Some(f) = c.last_frame {
            let text = format!(
                "{} leaves: the last of its bytes on the wire",
                self.frame_text(&f)
            );
            rows.push((f.time, "last frame", text));
        }
        if let Some((f, ack)) = c.ack_sent {
            let text = format!(
                "{} leaves: ACK of every byte below {ack}, the buffer's last byte included",
                self.frame_text(&f)
            );
            rows.push((f.time, "ACK", text));
        }
        if let Some((f, _)) = c.ack_received {
            rows.push((
                f.time,
                "ACK arrives",
                format!("{} arrives", self.frame_text(&f)),
            ));
        }
        if let Some((t, slot)) = c.clone_freed {
            let at = slot.map_or(String::new(), |s| format!(", ring slot {s}"));
            let text = format!(
                "{}: the last Tx completion of its frames{at}",
                Step::TxClean.models()
            );
            rows.push((t, "clone freed", text));
        }
        if let Some(t) = c.skbs_freed {
            let text = format!(
                "{}: the last of its sk_buffs, after the ACK",
                Step::SkbFreeAcked.models()
            );
            rows.push((t, "sk_buffs freed", text));
        }
        if let Some((f, ack)) = c.notification_ack_received {
            let text = format!(
                "{} arrives: ACK of every byte below {ack}, the notification's last byte included",
                self.frame_text(&f)
            );
            rows.push((f.time, "ACK (notif.)", text));
        }
        if let Some(t) = c.unpinned {
            let whose = match c.notification {
                Some((x, y)) if (x, y) != c.stream => {
                    format!(" of the notification's sends (stream bytes {x}..{y})")
                }
                _ => String::new(),
            };
            let text = if c.pages_unpinned == 0 {
                "no page to release: registered buffers stay pinned until unregistered".into()
            } else {
                format!(
                    "{} x{}, one per page pinned{whose}",
                    Step::PutUserPages.models(),
                    c.pages_unpinned
                )
            };
            rows.push((t, "unpinned", text));
        }
        if let Some(t) = c.notified {
            rows.push((t, "notified", Step::ZerocopyComplete.models().to_string()));
        }
        if let Some((t, s, sends)) = c.reaped {
            let text = format!(
                "{} ({sends} send{})",
                s.models(),
                if sends == 1 { "" } else { "s" }
            );
            rows.push((t, "reaped", text));
        }
        if let Some(t) = c.complete {
            rows.push((t, "complete", "the kernel is done with the buffer".into()));
        }
        if let Some(t) = c.returned {
            rows.push((t, "back in pool", "the buffer may be written again".into()));
        }
        rows.sort_by_key(|r| r.0);
        for (t, what, text) in rows {
            let _ = writeln!(o, "  {:>10}  {what:<14} {text}", human_ns(t));
        }
        if let (None, Some(t), Some(f)) = (c.pinned, c.complete, c.last_frame) {
            if t < f.time {
                let _ = writeln!(
                    o,
                    "  copied at the call: the buffer was the program's again at {}; its frames \
                     carried the kernel's copy",
                    human_ns(t)
                );
            }
        }
        if let (Some(pinned), Some(p), Some(u)) = (c.pinned_for(), c.pinned, c.unpinned) {
            let _ = writeln!(
                o,
                "  pages pinned for {} ({} -> {})",
                human_ns(pinned),
                human_ns(p),
                human_ns(u)
            );
        }
        match (
            c.notification_ack_received,
            c.ack_received,
            c.last_reference(),
        ) {
            (Some((f, _)), _, _) => {
                let _ = writeln!(
                    o,
                    "  completed with its notification, which covers later sends too: after the \
                     ACK in {}",
                    self.frame_text(&f)
                );
            }
            (None, Some((f, _)), Some(Step::SkbFreeAcked)) if c.unpinned.is_some() => {
                let _ = writeln!(
                    o,
                    "  completed by the ACK in {} (its clones were already freed)",
                    self.frame_text(&f)
                );
            }
            (None, Some((f, _)), Some(_)) if c.unpinned.is_some() => {
                let _ = writeln!(
                    o,
                    "  completed when Tx completion freed its last clone, after the ACK in {}",
                    self.frame_text(&f)
                );
            }
            _ => {}
        }
        if !c.rewritten_frames.is_empty() {
            let list: Vec<String> = (c.rewritten_frames.iter().take(8))
                .map(|f| format!("#{}", f.number))
                .collect();
            let more = c.rewritten_frames.len().saturating_sub(8);
            let _ = writeln!(
                o,
                "  {} frame{} of {} carried rewritten bytes: {}{}",
                c.rewritten_frames.len(),
                if c.rewritten_frames.len() == 1 {
                    ""
                } else {
                    "s"
                },
                capture_name(&self.hosts[self.sender]),
                list.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            );
        }
    }

    /// The journey as data (docs/scenario.md, "The trace JSON").
    pub fn json(&self, scenario: &str, outcome: &'static str, captures: &[String]) -> TraceJson {
        let frame_json = |f: &FrameRef| FrameJson {
            host: self.hosts[f.host].clone(),
            capture: capture_name(&self.hosts[f.host]),
            number: f.number,
            time_ns: f.time,
        };
        let chains = self.chains();
        let steps = self
            .timeline(&chains)
            .into_iter()
            .map(|l| {
                let host = self.hosts[l.host].clone();
                let wire = |frame: &FrameRef, dir: &Direction| WireJson {
                    frame: frame_json(frame),
                    direction: direction(*dir),
                    ack: None,
                    covers_last_byte_of: Vec::new(),
                    covers_notification_of: Vec::new(),
                    rewritten: false,
                };
                match &l.what {
                    What::Step(e) => StepJson {
                        time_ns: l.time,
                        host,
                        stage: e.step.stage(),
                        kind: e.step.kind().name(),
                        step: e.step.name(),
                        models: e.step.models(),
                        count: e.count,
                        bytes: e.bytes,
                        cpu_ns: e.cpu_ns,
                        stream: e.ctx.range().map(|(_, a, b)| [a, b]),
                        slot: e.ctx.slot(),
                        frame: None,
                    },
                    What::Data {
                        frame,
                        dir,
                        stream,
                        rewritten,
                    } => StepJson {
                        time_ns: l.time,
                        host,
                        stage: "wire",
                        kind: "frame",
                        step: "frame".into(),
                        models: "",
                        count: 1,
                        bytes: stream.1 - stream.0,
                        cpu_ns: 0,
                        stream: Some([stream.0, stream.1]),
                        slot: None,
                        frame: Some(WireJson {
                            rewritten: *rewritten,
                            ..wire(frame, dir)
                        }),
                    },
                    What::Ack {
                        frame,
                        dir,
                        ack,
                        covers,
                        completes,
                    } => StepJson {
                        time_ns: l.time,
                        host,
                        stage: "wire",
                        kind: "ack",
                        step: "ack".into(),
                        models: "",
                        count: 1,
                        bytes: 0,
                        cpu_ns: 0,
                        stream: None,
                        slot: None,
                        frame: Some(WireJson {
                            ack: Some(*ack),
                            covers_last_byte_of: (covers.iter().copied())
                                .filter(|&k| self.shows(k))
                                .collect(),
                            covers_notification_of: completes.clone(),
                            ..wire(frame, dir)
                        }),
                    },
                }
            })
            .collect();
        let ack = |a: Option<(FrameRef, u64)>| {
            a.map(|(f, ack)| AckJson {
                ack,
                frame: frame_json(&f),
            })
        };
        let completions = chains
            .iter()
            .map(|c| CompletionJson {
                use_index: c.use_index,
                stream: [c.stream.0, c.stream.1],
                sent_ns: c.sent.map(|s| s.0),
                pinned_ns: c.pinned,
                pages_pinned: c.pages_pinned,
                last_frame: c.last_frame.as_ref().map(frame_json),
                ack_sent: ack(c.ack_sent),
                ack_received: ack(c.ack_received),
                skbs_freed_ns: c.skbs_freed,
                clone_freed_ns: c.clone_freed.map(|x| x.0),
                notification: c.notification.map(|(a, b)| [a, b]),
                notification_ack_sent: ack(c.notification_ack_sent),
                notification_ack_received: ack(c.notification_ack_received),
                unpinned_ns: c.unpinned,
                pages_unpinned: c.pages_unpinned,
                notified_ns: c.notified,
                reaped_ns: c.reaped.map(|x| x.0),
                reaped_by: c.reaped.map(|x| x.1.name()),
                reaped_sends: c.reaped.map(|x| x.2),
                complete_ns: c.complete,
                returned_ns: c.returned,
                pinned_for_ns: c.pinned_for(),
                last_reference: c.last_reference().map(|s| s.name()),
                rewrites: (c.rewrites.iter())
                    .map(|&(t, (a, b))| RewriteJson {
                        time_ns: t,
                        stream: [a, b],
                    })
                    .collect(),
                rewritten_frames: c.rewritten_frames.iter().map(frame_json).collect(),
            })
            .collect();
        TraceJson {
            scenario: scenario.to_string(),
            flow: self.flow,
            buffer: self.buffer,
            use_index: self.use_index,
            uses: self.ranges.len(),
            outcome,
            captures: captures.to_vec(),
            steps,
            completions,
        }
    }

    /// An acknowledgement of every stream byte below `ack`, seen at `side`
    /// (0: leaving the receiver, 1: reaching the sender). Logged when it
    /// acknowledges new bytes; returns the uses whose last byte it is the
    /// first to cover, and whether it acknowledges bytes of a shown use.
    fn acknowledged(&mut self, side: usize, frame: FrameRef, ack: u64) -> (Vec<usize>, bool) {
        let before = self.acked[side].last().map_or(0, |e| e.0);
        if ack <= before {
            return (Vec::new(), false);
        }
        self.acked[side].push((ack, frame));
        // The uses with bytes in (before, ack].
        let mut covers = Vec::new();
        let mut shown = false;
        let first = self.ranges.partition_point(|r| r.1 <= before);
        for (k, &(a, b)) in self.ranges.iter().enumerate().skip(first) {
            if a >= ack {
                break;
            }
            shown |= self.shows(k);
            if b <= ack {
                covers.push(k);
            }
        }
        (covers, shown)
    }

    /// The first ACK seen at `side` that acknowledged byte `end - 1`.
    fn first_ack(&self, side: usize, end: u64) -> Option<(FrameRef, u64)> {
        let log = &self.acked[side];
        let i = log.partition_point(|e| e.0 < end);
        log.get(i).map(|&(ack, f)| (f, ack))
    }

    /// The stream offset of sequence number `seq`, taken near `last`
    /// (undoing 32-bit wrap-around).
    fn offset(isn: u32, seq: u32, last: u64) -> u64 {
        let rel = seq.wrapping_sub(isn.wrapping_add(1));
        let delta = rel.wrapping_sub(last as u32) as i32 as i64;
        (last as i64 + delta).max(0) as u64
    }
}

impl Observer for Trace {
    fn wants_frames(&self) -> bool {
        true
    }

    fn wants_events(&self) -> bool {
        true
    }

    fn event(&mut self, e: &Event) {
        let ctx = e.ctx;
        let host = e.host as usize;
        // A send call that used the buffer: learn the bytes it held.
        if ctx.buffer() == Some(self.buffer)
            && ctx.flow == self.flow
            && e.step.stage() == "app->socket"
            && matches!(e.step.kind(), Kind::Syscall | Kind::Handler)
        {
            if let Some((_, a, b)) = ctx.range() {
                self.ranges.push((a, b));
            }
        }
        let mut ends_use = None;
        let concerned = match ctx.range() {
            Some((f, a, b)) => f == self.flow && self.concerns(a, b),
            None => {
                let last = self.ranges.len().checked_sub(1);
                let hit = ctx.buffer() == Some(self.buffer)
                    && ctx.flow == self.flow
                    && e.step == Step::BufferReturned
                    && last.is_some_and(|k| self.shows(k));
                if hit {
                    ends_use = last;
                }
                hit
            }
        };
        if !concerned {
            return;
        }
        self.items.push(Item {
            time: e.time,
            host,
            what: What::Step(*e),
            ends_use,
        });
    }

    fn frame(&mut self, host: usize, time: Nanos, dir: Direction, frame: &[u8], info: &FrameInfo) {
        self.frames[host] += 1;
        let number = self.frames[host];
        let Some(g) = frame::tcp_segment(frame) else {
            return;
        };
        let data_way = (g.src_port, g.dst_port) == (self.client_port, self.port);
        let ack_way = (g.src_port, g.dst_port) == (self.port, self.client_port);
        if data_way && g.syn() && g.flags & frame::TCP_ACK == 0 {
            self.isn = Some(g.seq);
            return;
        }
        let Some(isn) = self.isn else {
            return;
        };
        let at = FrameRef { host, number, time };
        if data_way && g.payload_len > 0 {
            // The model says which stream bytes the frame carries, and
            // whether a lifetime violation rewrote any (the arriving copy
            // carries what its departure did).
            let Some(s) = info.stream.filter(|s| s.flow == self.flow && !s.echo) else {
                return;
            };
            let (a, b) = (s.start, s.start + s.len as u64);
            if !self.concerns(a, b) {
                return;
            }
            let what = What::Data {
                frame: at,
                dir,
                stream: (a, b),
                rewritten: info.rewritten.is_some(),
            };
            self.push(time, host, what);
        } else if ack_way && g.flags & frame::TCP_ACK != 0 && !g.syn() {
            let side = match (dir, host) {
                (Direction::Out, h) if h == self.receiver => 0,
                (Direction::In, h) if h == self.sender => 1,
                _ => return,
            };
            let ack = Trace::offset(isn, g.ack, self.last_ack[host]);
            self.last_ack[host] = ack;
            let (covers, shown) = self.acknowledged(side, at, ack);
            if shown {
                let what = What::Ack {
                    frame: at,
                    dir,
                    ack,
                    covers,
                    completes: Vec::new(),
                };
                self.push(time, host, what);
            }
        }
    }
}

fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Out => "out",
        Direction::In => "in",
    }
}

/// How one use of the buffer ended: its completion chain.
#[derive(Debug, Default)]
struct Chain {
    use_index: usize,
    stream: (u64, u64),
    /// The send call (its first step).
    sent: Option<(Nanos, Step)>,
    pinned: Option<Nanos>,
    pages_pinned: u64,
    /// The last frame that left the sender with some of its bytes.
    last_frame: Option<FrameRef>,
    /// The first ACK covering its last byte: leaving the receiver,
    /// reaching the sender (with the acknowledgement number).
    ack_sent: Option<(FrameRef, u64)>,
    ack_received: Option<(FrameRef, u64)>,
    /// When its notification also covers later sends: the first ACK
    /// covering the notification's last byte, which it waited for.
    notification_ack_sent: Option<(FrameRef, u64)>,
    notification_ack_received: Option<(FrameRef, u64)>,
    /// The last Tx clean of a frame of its bytes (and its ring slot).
    clone_freed: Option<(Nanos, Option<u16>)>,
    /// The last `tcp_clean_rtx_queue` that freed sk_buffs of its bytes.
    skbs_freed: Option<Nanos>,
    unpinned: Option<Nanos>,
    pages_unpinned: u64,
    /// The stream bytes of the notification that covered it.
    notification: Option<(u64, u64)>,
    notified: Option<Nanos>,
    /// When, by which step, and how many sends the reaped range covered.
    reaped: Option<(Nanos, Step, u64)>,
    complete: Option<Nanos>,
    returned: Option<Nanos>,
    /// The application's rewrites of the buffer while these bytes were in
    /// flight, and the frames that carried rewritten bytes.
    rewrites: Vec<(Nanos, (u64, u64))>,
    rewritten_frames: Vec<FrameRef>,
}

impl Chain {
    /// How long the pages stayed pinned.
    fn pinned_for(&self) -> Option<Nanos> {
        Some(self.unpinned?.saturating_sub(self.pinned?))
    }

    /// Which of the two releases came last, and so let the pages go: the
    /// ACK's clean-up of the sk_buffs, or the Tx completion of the last
    /// clone. Known only when the notification is the use's own (one that
    /// covers other sends waits for their frames too, which the trace does
    /// not follow).
    fn last_reference(&self) -> Option<Step> {
        let own = self
            .notification
            .is_some_and(|(a, b)| a >= self.stream.0 && b <= self.stream.1);
        if !own {
            return None;
        }
        match (self.skbs_freed, self.clone_freed) {
            (Some(a), Some((t, _))) if t > a => Some(Step::TxClean),
            (Some(_), _) => Some(Step::SkbFreeAcked),
            (None, Some(_)) => Some(Step::TxClean),
            (None, None) => None,
        }
    }
}

/// `simnet trace --json`. Times are nanoseconds of virtual time; absent
/// values are `null`.
#[derive(Serialize)]
pub struct TraceJson {
    pub scenario: String,
    pub flow: u16,
    pub buffer: u32,
    /// The use shown (`--use`), or `null` for every use (`--all`).
    #[serde(rename = "use")]
    pub use_index: Option<usize>,
    /// How many send calls used the buffer.
    pub uses: usize,
    pub outcome: &'static str,
    pub captures: Vec<String>,
    /// The journey, in time order.
    pub steps: Vec<StepJson>,
    /// Per use shown: how it ended.
    pub completions: Vec<CompletionJson>,
}

#[derive(Serialize)]
pub struct StepJson {
    pub time_ns: u64,
    pub host: String,
    pub stage: &'static str,
    pub kind: &'static str,
    /// The step's name (`simnet explain` takes it), `frame` or `ack`.
    pub step: String,
    pub models: &'static str,
    pub count: u64,
    pub bytes: u64,
    pub cpu_ns: u64,
    pub stream: Option<[u64; 2]>,
    pub slot: Option<u16>,
    /// For `frame` and `ack`: the frame in its capture.
    pub frame: Option<WireJson>,
}

#[derive(Serialize)]
pub struct WireJson {
    #[serde(flatten)]
    pub frame: FrameJson,
    pub direction: &'static str,
    /// An ACK's acknowledgement: every stream byte below it.
    pub ack: Option<u64>,
    /// Uses whose last byte this ACK is the first to cover.
    pub covers_last_byte_of: Vec<usize>,
    /// Uses whose zero-copy notification (covering later sends too) has
    /// its last byte first covered by this ACK.
    pub covers_notification_of: Vec<usize>,
    /// The payload is bytes the application wrote after the send.
    pub rewritten: bool,
}

#[derive(Serialize)]
pub struct FrameJson {
    pub host: String,
    /// The capture file's name; `number` counts its frames from 1.
    pub capture: String,
    pub number: u64,
    pub time_ns: u64,
}

#[derive(Serialize)]
pub struct AckJson {
    pub ack: u64,
    pub frame: FrameJson,
}

#[derive(Serialize)]
pub struct RewriteJson {
    pub time_ns: u64,
    pub stream: [u64; 2],
}

#[derive(Serialize)]
pub struct CompletionJson {
    #[serde(rename = "use")]
    pub use_index: usize,
    pub stream: [u64; 2],
    pub sent_ns: Option<u64>,
    pub pinned_ns: Option<u64>,
    pub pages_pinned: u64,
    pub last_frame: Option<FrameJson>,
    pub ack_sent: Option<AckJson>,
    pub ack_received: Option<AckJson>,
    pub skbs_freed_ns: Option<u64>,
    pub clone_freed_ns: Option<u64>,
    /// The stream bytes of the zero-copy notification that covered the
    /// use, and, when it covers later sends too, the ACK of its last byte.
    pub notification: Option<[u64; 2]>,
    pub notification_ack_sent: Option<AckJson>,
    pub notification_ack_received: Option<AckJson>,
    pub unpinned_ns: Option<u64>,
    pub pages_unpinned: u64,
    pub notified_ns: Option<u64>,
    pub reaped_ns: Option<u64>,
    pub reaped_by: Option<String>,
    pub reaped_sends: Option<u64>,
    pub complete_ns: Option<u64>,
    pub returned_ns: Option<u64>,
    pub pinned_for_ns: Option<u64>,
    /// `skb_free_acked` or `tx_clean`: the release that came last.
    pub last_reference: Option<String>,
    pub rewrites: Vec<RewriteJson>,
    pub rewritten_frames: Vec<FrameJson>,
}

/// Forwards everything to two observers (a trace or a recorder, and the
/// captures). Samples go to each that wants them, at the first one's
/// interval.
pub struct Tee<'a, A: Observer, B: Observer> {
    pub a: &'a mut A,
    pub b: &'a mut B,
}

impl<A: Observer, B: Observer> Observer for Tee<'_, A, B> {
    fn wants_frames(&self) -> bool {
        self.a.wants_frames() || self.b.wants_frames()
    }
    fn wants_events(&self) -> bool {
        self.a.wants_events() || self.b.wants_events()
    }
    fn frame(&mut self, host: usize, time: Nanos, dir: Direction, frame: &[u8], info: &FrameInfo) {
        if self.a.wants_frames() {
            self.a.frame(host, time, dir, frame, info);
        }
        if self.b.wants_frames() {
            self.b.frame(host, time, dir, frame, info);
        }
    }
    fn event(&mut self, e: &Event) {
        if self.a.wants_events() {
            self.a.event(e);
        }
        if self.b.wants_events() {
            self.b.event(e);
        }
    }
    fn sample_every(&self) -> Option<Nanos> {
        self.a.sample_every().or_else(|| self.b.sample_every())
    }
    fn sample(&mut self, s: &Sample) {
        if self.a.sample_every().is_some() {
            self.a.sample(s);
        }
        if self.b.sample_every().is_some() {
            self.b.sample(s);
        }
    }
}
