//! The event vocabulary every stage emits, and the observers that listen.
//!
//! Owns [`Step`]: each accounted step of the journey, with the stage it
//! belongs to, its kind (copy, pin, DMA, ...), the CPU category its cost is
//! charged to, the Linux function or hardware step it models, and a
//! paragraph that explains it to a reader of the report (the step's doc
//! comment in the [`steps!`] table). Owns the words of that vocabulary with
//! their explanations too: [`Kind`], [`CpuCategory`] and the stages
//! ([`STAGES`], with the one-line heading the report prints over each).
//! These tables are the one source of the tool's `explain` command and of
//! `docs/glossary.md`, so code and glossary cannot drift. Owns
//! [`Counters`], the always-on per-host tally behind the report, and the
//! [`Observer`] trait through which the tool receives frames with their
//! provenance (for captures; [`crate::provenance`]), individual events (for
//! traces and timelines) and the model's gauges at fixed steps of virtual
//! time ([`Sample`], for plots over time).
//!
//! Does not format anything: observers decide what to write. An observer that
//! asks for nothing costs nothing: the model checks [`Observer::wants_events`],
//! [`Observer::wants_frames`] and [`Observer::sample_every`] once and skips
//! the calls otherwise.

use crate::engine::Nanos;
use crate::provenance::FrameInfo;
pub use crate::sample::Sample;

/// A doc comment's lines (as `#[doc]` strings) as one paragraph: each line
/// trimmed, joined with single spaces.
fn paragraph(lines: &[&str]) -> String {
    let words: Vec<&str> = lines.iter().flat_map(|l| l.split_whitespace()).collect();
    words.join(" ")
}

/// An enum of words: each variant's doc comment is its explanation, the
/// string its name in the report.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $T:ident {
            $( $(#[doc = $doc:literal])* $name:ident => $word:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $T { $( $(#[doc = $doc])* $name, )* }

        impl $T {
            /// Every word, in declaration order.
            pub const VARIANTS: &'static [$T] = &[ $( $T::$name, )* ];

            /// The word as the report and the JSON summary print it.
            pub fn name(self) -> &'static str {
                match self { $( $T::$name => $word, )* }
            }

            /// What the word means, for a reader of the report: one
            /// paragraph (its doc comment).
            pub fn explanation(self) -> String {
                match self { $( $T::$name => paragraph(&[ $($doc),* ]), )* }
            }
        }
    };
}

vocabulary! {
    /// What a step is, in the report's words (its `kind` column).
    pub enum Kind {
        /// A system call: the program enters the kernel (`write`, `sendmsg`,
        /// `read`, `recvmsg`, `io_uring_enter`, ...). Each call pays a fixed
        /// price to enter and leave the kernel however many bytes it carries
        /// (`syscall` in docs/costs.md), so fewer, larger calls amortise it.
        /// Count is calls; bytes is what the calls carried.
        Syscall => "syscall",
        /// The CPU copies bytes from one buffer to another: user memory into
        /// kernel page frags (`copy_from_user`), kernel memory into user
        /// memory (`copy_to_user`), a small received frame into a fresh
        /// sk_buff (copybreak), an application buffer into a larger one as it
        /// grows. Its cost grows with the bytes (`copy_bandwidth`). Zero-copy
        /// paths exist to avoid copying the data; the report counts the
        /// copybreak copies of small frames (mostly ACKs) apart from the
        /// data copies so that a zero-copy sender is not said to copy.
        Copy => "copy",
        /// Pages referenced or pinned so that the kernel, and the NIC's DMA,
        /// use the application's memory in place: `get_user_pages_fast` for
        /// MSG_ZEROCOPY, `pin_user_pages_fast` for io_uring registered
        /// buffers. Count is pages. Until the matching unpin the page stays
        /// in memory and the application must not change it.
        Pin => "pin",
        /// Page references dropped once the kernel is done with the pages
        /// (`put_page`, `unpin_user_pages`): the other end of a pin. A
        /// zero-copy send's pages are released only when TCP has every byte
        /// acknowledged and the driver has freed every transmitted clone of
        /// the sk_buffs that carried them. Count is pages.
        Unpin => "unpin",
        /// Memory made reachable without copying it: page-cache pages
        /// referenced by sendfile and splice, a registered io_uring buffer
        /// looked up, received pages mapped into the application
        /// (`vm_insert_pages`) or moved into a pipe. Count is pages or
        /// buffers.
        Map => "map",
        /// The NIC reads host memory by DMA, without the CPU: Tx descriptors
        /// (16 bytes each) and the bytes of each frame. It costs no CPU time
        /// but takes the DMA engine's time (`dma_bandwidth`). For a
        /// zero-copy send this, not the send call, is when the application's
        /// pages are read.
        DmaRead => "dma_read",
        /// The NIC writes a received frame into a buffer the driver posted,
        /// by DMA, without the CPU (with header split, the headers and the
        /// payload into separate buffers).
        DmaWrite => "dma_write",
        /// IP and TCP checksums: computed or verified by the CPU in software
        /// (charged by the byte to the `checksum` CPU category) or by the
        /// NIC (checksum offload: no CPU time; the row says the NIC did it).
        Checksum => "checksum",
        /// The byte stream cut into segments or frames: TCP builds a segment
        /// (`tcp_write_xmit`), software GSO or the NIC's TSO cuts a
        /// super-segment into MSS-sized frames, or GRO merges received
        /// frames into one sk_buff. Count is segments or frames.
        Segment => "segment",
        /// Per-packet protocol work that is not a copy: a frame through IP
        /// and TCP input, a pure ACK or other control frame sent, GRO
        /// looking at a frame, a zero-copy notification extended. Its CPU
        /// time is the per-packet cost (`per_packet_rx`, `per_packet_tx`),
        /// in the `stack` CPU category. One per-call step is of this kind
        /// too: a zero-copy send's locked-memory accounting
        /// (`zerocopy_send`, in the `pin` category).
        Protocol => "protocol",
        /// Memory allocated for the data path: sk_buffs
        /// (`tcp_stream_alloc_skb`, `napi_build_skb`), zero-copy
        /// notification records, Rx buffer pages from the page pool, an
        /// application's temporary buffers. Count is objects.
        Alloc => "alloc",
        /// Data-path memory released: acknowledged sk_buffs freed from the
        /// retransmit queue, transmitted sk_buffs freed at Tx completion
        /// (`napi_consume_skb`), receive sk_buffs the reads consumed, mapped
        /// pages let go. Count is objects.
        Free => "free",
        /// The driver writes descriptors into a ring for the NIC: Tx
        /// descriptors pointing at a frame's header and each piece of
        /// memory its payload lives in (`e1000_tx_map`), Rx descriptors
        /// pointing at empty buffers (`e1000_alloc_rx_buffers`). Count is
        /// descriptors.
        DescPost => "desc_post",
        /// The NIC writes a descriptor back into host memory to say it is
        /// done with it: the DD ("descriptor done") bit of a sent Tx frame,
        /// or the length and status of a filled Rx buffer. DMA, no CPU;
        /// bytes are the 16-byte descriptors written.
        DescWriteback => "desc_writeback",
        /// An MMIO write of a ring's tail register (TDT for Tx, RDT for Rx)
        /// telling the NIC that new descriptors are there. It is uncached
        /// and slow next to memory writes, so drivers put a batch of
        /// descriptors behind one doorbell (`xmit_more`).
        Doorbell => "doorbell",
        /// A hardware interrupt from the NIC: the handler masks further
        /// interrupts and schedules a NAPI poll. Interrupt moderation
        /// (`irq_coalesce`) lets one interrupt cover many frames.
        Irq => "irq",
        /// One NAPI poll in softirq context: the driver reaps finished Tx
        /// descriptors and received frames, up to its budget
        /// (`napi_budget`), and turns interrupts back on once the ring is
        /// empty.
        NapiPoll => "napi_poll",
        /// A frame serialised onto the link at its rate: the time it takes
        /// is its length over the link rate, plus the propagation delay to
        /// the other end.
        WireTx => "wire_tx",
        /// A frame received from the link by the NIC's MAC, before it finds
        /// (or fails to find) an Rx descriptor.
        WireRx => "wire_rx",
        /// A frame or segment thrown away: no Rx descriptor was free, a
        /// checksum was wrong, its bytes were all queued already, or the
        /// model cannot take it. TCP recovers the bytes by retransmitting.
        Drop => "drop",
        /// A segment carrying bytes sent before, after a retransmission
        /// timeout or a fast retransmit. It is counted in the segment row
        /// too.
        Retransmit => "retransmit",
        /// A zero-copy send completes: the kernel's last reference to its
        /// pages is gone and a notification is queued on the socket's error
        /// queue (`__msg_zerocopy_callback`) or as an io_uring CQE, for the
        /// application to reap. Until then the buffer must not be touched.
        Completion => "completion",
        /// Bookkeeping with no kernel cost of its own: an application step
        /// (framing, a streambuf commit), an io_uring submission or
        /// completion entry, or the buffer lifecycle events (initiated,
        /// pending, complete, returned) that `simnet trace` follows.
        Handler => "handler",
        /// Someone waited: the writer for send-buffer space, the reader for
        /// data, the application for a zero-copy completion, the driver for
        /// Tx ring space, a small write for the Tx completion that pushes it
        /// (autocork). Count is waits; waiting costs the CPU nothing.
        Wait => "wait",
        /// A piece of memory an sk_buff's payload sits in (its
        /// `skb_shinfo(skb)->frags`): part of a kernel page frag for copied
        /// bytes, a user page for zero-copy, a page-cache page for sendfile.
        /// Each frag of a frame costs the driver one more Tx descriptor.
        Frag => "frag",
        /// A zero-copy lifetime violation: the application wrote into a
        /// buffer whose bytes the kernel had not finished sending, and the
        /// frames took the new bytes. Only `reuse = "immediately"` does this
        /// (scenarios/lifetime_bug.toml).
        Violation => "violation",
    }
}

vocabulary! {
    /// Where CPU time goes, for the report's CPU breakdown.
    pub enum CpuCategory {
        /// Not CPU work: DMA, the wire, waits, and bookkeeping that costs
        /// the host's CPU nothing. Its rows show `-` for CPU time.
        None => "none",
        /// Entering and leaving the kernel for system calls.
        Syscall => "syscall",
        /// The CPU moving bytes (`copy_from_user`, `copy_to_user`,
        /// copybreak, ...), priced by the byte at `copy_bandwidth`.
        Copy => "copy",
        /// Taking and dropping page references and mappings for zero copy
        /// (`get_user_pages_fast`, `put_page`, `vm_insert_pages`).
        Pin => "pin",
        /// Checksums computed or verified in software, priced by the byte.
        Checksum => "checksum",
        /// Per-packet protocol and socket work: sk_buffs allocated and
        /// freed, TCP/IP input and output, GRO, zero-copy notifications.
        Stack => "stack",
        /// Driver work: descriptors, doorbells, Tx cleaning and Rx refills.
        Driver => "driver",
        /// Hardware interrupt handlers.
        Interrupt => "interrupt",
    }
}

impl CpuCategory {
    /// The categories CPU time is charged to (every one but `None`).
    pub const ALL: [CpuCategory; 7] = [
        CpuCategory::Syscall,
        CpuCategory::Copy,
        CpuCategory::Pin,
        CpuCategory::Checksum,
        CpuCategory::Stack,
        CpuCategory::Driver,
        CpuCategory::Interrupt,
    ];
}

/// A stage of the journey: the `stage` of a [`Step`], with the line the
/// report prints over its rows and a paragraph about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// As a step names it, e.g. `"app->socket"`.
    pub name: &'static str,
    /// What the stage is, in a few words (the report's group heading).
    pub heading: &'static str,
    /// What happens there, for the glossary and `simnet explain`.
    pub explanation: &'static str,
}

/// Every stage, in the order the report groups rows: the sending side's
/// path down to the wire, then the receiving side's up to the program,
/// then what the program does itself and the zero-copy completions.
pub const STAGES: &[Stage] = &[
    Stage {
        name: "app->socket",
        heading: "the send call hands bytes to the kernel",
        explanation: "The sending program's calls into the kernel: the syscall itself, and \
            how its bytes get into the socket, copied (copy_from_user), pinned in place \
            (MSG_ZEROCOPY, io_uring SEND_ZC) or referenced from the page cache (sendfile, \
            splice). A writer that finds the send buffer full waits here.",
    },
    Stage {
        name: "socket",
        heading: "sk_buffs hold the bytes until TCP has them acknowledged",
        explanation: "The socket's write queue: the sk_buffs and frags the sent bytes sit in, \
            the zero-copy notification records, and the sk_buffs freed once the peer has \
            acknowledged their bytes (tcp_clean_rtx_queue).",
    },
    Stage {
        name: "tcp",
        heading: "TCP/IP (smoltcp): segments and ACKs out, frames in",
        explanation: "The TCP/IP stack, smoltcp unmodified: segments cut from the send queue \
            and handed to the driver, pure ACKs and other control frames, software checksums \
            and GSO where the NIC does not offload them, and on the way in IP and TCP input \
            of every frame (netif_receive_skb -> tcp_v4_rcv).",
    },
    Stage {
        name: "driver",
        heading: "the driver posts Tx descriptors, rings doorbells, takes interrupts",
        explanation: "The NIC driver (modelled on e1000): ndo_start_xmit maps each frame onto \
            Tx descriptors and writes the tail register (the doorbell); a full Tx ring stops \
            the queue; the NIC's interrupts arrive here and schedule NAPI.",
    },
    Stage {
        name: "nic tx",
        heading: "the NIC reads descriptors and frames from memory by DMA",
        explanation: "The NIC's transmit side, hardware: it fetches posted descriptors and the \
            frame's bytes by DMA (no CPU), inserts checksums and cuts TSO super-segments when \
            offloaded, and writes the DD bit back when a frame is sent.",
    },
    Stage {
        name: "wire",
        heading: "frames cross the link",
        explanation: "The link between the hosts (or a host and the switch): each frame takes \
            its length over the link rate to serialise, then the propagation delay; faults \
            and queues are applied here.",
    },
    Stage {
        name: "nic rx",
        heading: "the NIC writes arriving frames into memory by DMA",
        explanation: "The NIC's receive side, hardware: a frame from the wire is written by \
            DMA into the buffer of the next free Rx descriptor, which is written back with \
            the length; with no free descriptor the frame is dropped.",
    },
    Stage {
        name: "napi",
        heading: "the receive softirq polls the rings: received frames and finished Tx",
        explanation: "NAPI, in softirq context after an interrupt: Tx descriptors the NIC is \
            done with are cleaned and their sk_buffs freed; received frames become sk_buffs \
            (small ones copied: copybreak), go through GRO and up the stack; the Rx ring is \
            refilled from the page pool.",
    },
    Stage {
        name: "socket->app",
        heading: "the receive call hands bytes to the program",
        explanation: "The receiving program's calls: the syscall, the copy into its buffer \
            (copy_to_user) or the mapping of whole pages (TCP_ZEROCOPY_RECEIVE), the receive \
            queue's sk_buffs freed as they are consumed; a reader with nothing to read waits \
            here.",
    },
    Stage {
        name: "socket->file",
        heading: "splice writes received bytes into a file",
        explanation: "splice's second half on the receiving side: the pipe's pages written \
            into the page cache of the destination file.",
    },
    Stage {
        name: "app",
        heading: "the program's own work on its buffers",
        explanation: "What the application does around the kernel: framing temporaries and \
            composed reads, a dynamic buffer that grows (and copies what it holds), and the \
            lifecycle of each send buffer (initiated, pending, complete) that simnet trace \
            follows; a buffer rewritten too early is marked here.",
    },
    Stage {
        name: "completion",
        heading: "the kernel lets go of zero-copy pages and tells the program",
        explanation: "The end of a zero-copy send: once TCP has every byte acknowledged and \
            the driver has freed every clone, the pages are unpinned (put_page), a \
            notification is queued (__msg_zerocopy_callback), the application reaps it \
            (recvmsg(MSG_ERRQUEUE) or an io_uring CQE) and may reuse the buffer.",
    },
];

/// The stage named `name`, if there is one.
pub fn stage(name: &str) -> Option<&'static Stage> {
    STAGES.iter().find(|s| s.name == name)
}

/// `CamelCase` as `snake_case`.
fn snake(ident: &str) -> String {
    let mut out = String::with_capacity(ident.len() + 4);
    for (i, c) in ident.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

macro_rules! steps {
    ($( $(#[doc = $doc:literal])* $name:ident => ($stage:expr, $kind:ident, $cat:ident, $models:expr), )*) => {
        /// One accounted step of the journey.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        pub enum Step { $( $(#[doc = $doc])* $name, )* }

        impl Step {
            /// Every step, in journey order (the report's row order).
            pub const ALL: &'static [Step] = &[ $( Step::$name, )* ];

            /// The stage of the journey, e.g. `app->socket`.
            pub fn stage(self) -> &'static str {
                match self { $( Step::$name => $stage, )* }
            }

            pub fn kind(self) -> Kind {
                match self { $( Step::$name => Kind::$kind, )* }
            }

            pub fn category(self) -> CpuCategory {
                match self { $( Step::$name => CpuCategory::$cat, )* }
            }

            /// The Linux function or hardware step this models.
            pub fn models(self) -> &'static str {
                match self { $( Step::$name => $models, )* }
            }

            /// The step's name in `snake_case`, e.g. `put_user_pages`.
            pub fn name(self) -> String {
                match self { $( Step::$name => snake(stringify!($name)), )* }
            }

            /// What the step is, for a reader of the report: one paragraph
            /// (its doc comment in the table below).
            pub fn explanation(self) -> String {
                match self { $( Step::$name => paragraph(&[ $($doc),* ]), )* }
            }
        }
    };
}

steps! {
    /// `write(2)` entering the kernel: `sock_write_iter` hands the buffer to
    /// `tcp_sendmsg`, which copies the bytes into the socket (the copy row
    /// below). Count is calls, bytes what they carried.
    WriteSyscall => ("app->socket", Syscall, Syscall, "ksys_write -> sock_write_iter -> tcp_sendmsg"),
    /// `sendmsg(MSG_ZEROCOPY)` entering the kernel: the bytes are not
    /// copied; the kernel pins the buffer's pages (the pin row) and the
    /// buffer stays the kernel's until its completion.
    SendmsgSyscall => ("app->socket", Syscall, Syscall, "__sys_sendmsg -> tcp_sendmsg_locked (MSG_ZEROCOPY)"),
    /// `writev(2)` entering the kernel: one call for several buffers
    /// (iovecs), each copied into the socket like `write`'s.
    WritevSyscall => ("app->socket", Syscall, Syscall, "do_writev -> sock_write_iter -> tcp_sendmsg"),
    /// `sendfile(2)` entering the kernel: the file's page-cache pages go to
    /// the socket by reference; no application buffer, no copy.
    SendfileSyscall => ("app->socket", Syscall, Syscall, "do_sendfile -> do_splice_direct -> splice_to_socket"),
    /// `splice(2)`, file to pipe then pipe to socket: page references move
    /// through the pipe; nothing is copied to or from user space.
    SpliceSyscall => ("app->socket", Syscall, Syscall, "do_splice: file -> pipe -> socket (MSG_SPLICE_PAGES)"),
    /// An io_uring submission queue entry written by the application into
    /// the shared ring: no syscall by itself; `io_uring_enter` submits a
    /// batch of them.
    IoUringSqe => ("app->socket", Handler, None, "io_uring SQE written to the submission ring"),
    /// `io_uring_enter(2)`: one syscall submits a batch of SQEs (and may
    /// wait for completions), so its cost is shared by the batch.
    IoUringEnter => ("app->socket", Syscall, Syscall, "io_uring_enter -> io_submit_sqes"),
    /// io_uring registered buffers pinned once, when registered, for the
    /// whole run (`FOLL_LONGTERM`): later sends from them pin nothing.
    /// Count is pages.
    IoUringRegister => ("app->socket", Pin, Pin, "io_sqe_buffers_register -> pin_user_pages_fast(FOLL_LONGTERM)"),
    /// A zero-copy send from a registered buffer: the kernel looks its
    /// pages up in the registration instead of pinning them again.
    IoUringImportFixed => ("app->socket", Map, Stack, "io_send_zc -> io_import_fixed"),
    /// Page-cache pages referenced by sendfile or splice (`get_page`): the
    /// file's own pages become the sk_buff's frags; no copy, no pin. Count
    /// is pages.
    PageCacheRef => ("app->socket", Map, Stack, "skb_splice_from_iter: get_page (page cache, SKBFL_SHARED_FRAG)"),
    /// The writer blocks because the socket's send buffer (`sndbuf`) is
    /// full; it wakes when ACKs free enough of it.
    SndbufWait => ("app->socket", Wait, None, "sk_stream_wait_memory"),
    /// A small write left in the tail sk_buff instead of being sent at
    /// once: earlier frames of the socket are still in the driver or the
    /// NIC, and their Tx completion pushes it (Linux's autocorking, on by
    /// default). Bytes are what was held back.
    Autocork => ("tcp", Wait, None, "tcp_push: tcp_should_autocork (held until Tx completion)"),
    /// The CPU copies the user's bytes into kernel page frags: the copy
    /// path's send-side copy. After it the application's buffer is its own
    /// again, which is why `write` returns with the buffer free.
    CopyFromUser => ("app->socket", Copy, Copy, "copy_from_user (skb_copy_to_page_nocache)"),
    /// A zero-copy send's setup beyond its pages, once per send call: the
    /// pinned bytes accounted against the user's locked-memory limit
    /// (`mm_account_pinned_pages` for MSG_ZEROCOPY, `io_notif_account_mem`
    /// for io_uring's SEND_ZC), the completion record's reference. The
    /// pages themselves are `get_user_pages_fast`'s row. It is what makes
    /// small zero-copy sends dearer than copying them (docs/costs.md).
    ZerocopySetup => ("app->socket", Protocol, Pin, "mm_account_pinned_pages / io_notif_account_mem (per send)"),
    /// The user pages holding a MSG_ZEROCOPY send's bytes are referenced
    /// (pinned) so that the NIC can read them in place; they stay pinned
    /// until the send completes. Count is pages.
    GetUserPages => ("app->socket", Pin, Pin, "get_user_pages_fast (skb_zerocopy_iter_stream)"),
    /// The sent bytes start new frags in the socket's sk_buffs: a region of
    /// a page frag, a user page, a page-cache page. Each frag is one more
    /// piece of memory the driver must give the NIC a descriptor for.
    /// Count is frags.
    SkbFrag => ("socket", Frag, None, "skb_fill_page_desc / skb_coalesce (new frag)"),
    /// A new zero-copy notification record (`ubuf_info`) for a send: it
    /// tracks the send's pages until every byte is acknowledged and
    /// transmitted, then becomes the completion the application reaps.
    ZerocopyAlloc => ("socket", Alloc, Stack, "msg_zerocopy_alloc (a new notification)"),
    /// A zero-copy send joined the previous send's notification because
    /// that send's bytes still sat unsent in the tail sk_buff: no new
    /// record, and one completion will cover both sends. Bytes are the
    /// joining send's.
    ZerocopyExtend => ("socket", Protocol, None, "msg_zerocopy_realloc (extends the notification)"),
    /// A data sk_buff allocated: one per segment, cut when first
    /// transmitted (as `tcp_fragment` leaves Linux without TSO). Bytes are
    /// the segment's payload.
    SkbAlloc => ("socket", Alloc, Stack, "tcp_stream_alloc_skb / tcp_fragment"),
    /// The peer's ACK covered these sk_buffs' bytes: TCP frees them from
    /// its retransmit queue. For a zero-copy send this drops the original
    /// sk_buff's hold on the pages; the transmitted clones are freed at Tx
    /// completion (`napi_consume_skb`).
    SkbFreeAcked => ("socket", Free, Stack, "tcp_clean_rtx_queue -> tcp_wmem_free_skb"),
    /// A data segment leaves TCP for IP and the driver. Bytes are payload;
    /// retransmissions are counted here too.
    TcpXmit => ("tcp", Segment, Stack, "tcp_write_xmit -> tcp_transmit_skb -> ip_queue_xmit"),
    /// A segment carrying bytes sent before: after a retransmission timeout
    /// (at least 1 s in smoltcp) or a fast retransmit.
    TcpRetransmit => ("tcp", Retransmit, None, "tcp_retransmit_skb"),
    /// A pure ACK leaves the stack: no payload, no SYN, FIN or RST. The
    /// receiver sends them as it takes in data (Linux ACKs every second
    /// full segment, or each GRO-merged sk_buff); they let the sender free
    /// its sk_buffs and complete its zero-copy sends.
    AckXmit => ("tcp", Protocol, Stack, "tcp_send_ack -> __tcp_transmit_skb (pure ACK)"),
    /// Another control frame leaves the stack: a SYN, a FIN, an RST, an
    /// ARP request or reply, an ICMP echo reply.
    CtrlXmit => ("tcp", Protocol, Stack, "tcp_connect / tcp_send_fin / arp_send -> dev_queue_xmit"),
    /// The CPU computes the IP and TCP checksums because the NIC does not
    /// (no `tx-checksum` offload). Priced by the byte.
    TxChecksum => ("tcp", Checksum, Checksum, "ip_send_check + __tcp_v4_send_check (software)"),
    /// Software segmentation (GSO): a super-segment the NIC cannot cut
    /// (no TSO) is cut into MSS-sized frames by the CPU just before the
    /// driver.
    GsoSegment => ("tcp", Segment, Stack, "validate_xmit_skb -> skb_gso_segment -> tcp_gso_segment"),
    /// Zero-copy frags copied so that the CPU can checksum them: the user
    /// could change its pages under a software checksum, so Linux copies
    /// shared frags first (`skb_checksum_help`). Zero-copy without
    /// checksum offload copies after all.
    ZerocopyChecksumCopy => ("tcp", Copy, Copy, "skb_checksum_help -> __skb_linearize (shared frags)"),
    /// The software checksum's copy of zero-copy frags (no checksum
    /// offload) took rewritten user pages: the frame carries the new bytes.
    /// Count is frames; bytes are their payload.
    RewrittenCopy => ("tcp", Violation, None, "skb_checksum_help copy of rewritten user pages"),
    /// The driver writes Tx descriptors for a frame: one for the headers
    /// and one for each piece of memory its payload lives in. Count is
    /// descriptors, bytes the frame's.
    TxDescPost => ("driver", DescPost, Driver, "e1000_tx_map -> e1000_tx_queue"),
    /// The driver writes the Tx tail register (TDT) once after a batch of
    /// frames: an uncached MMIO write that tells the NIC to fetch them.
    TxDoorbell => ("driver", Doorbell, Driver, "writel(TDT)"),
    /// The Tx ring had no room for another frame: the driver stops the
    /// queue until Tx completion cleans descriptors.
    TxRingFull => ("driver", Wait, None, "netif_stop_queue (Tx ring full)"),
    /// The NIC fetches posted Tx descriptors from host memory by DMA (16
    /// bytes each).
    TxDescFetch => ("nic tx", DmaRead, None, "NIC descriptor fetch (DMA read)"),
    /// The NIC reads a frame's bytes, headers and payload, from host memory
    /// by DMA. For a zero-copy send this reads the application's own pages,
    /// as they are at this moment.
    TxDmaRead => ("nic tx", DmaRead, None, "NIC payload DMA read"),
    /// A frame whose payload the NIC read from rewritten user pages: the
    /// wire carries the new bytes instead of those the send was for. Count
    /// is frames; bytes are their payload.
    RewrittenDmaRead => ("nic tx", Violation, None, "NIC payload DMA read of rewritten user pages"),
    /// The NIC writes the DD ("descriptor done") bit back into a Tx
    /// descriptor once the frame is in its FIFO; the driver's Tx clean
    /// looks for it.
    TxWriteback => ("nic tx", DescWriteback, None, "Tx write-back E1000_TXD_STAT_DD"),
    /// The NIC computes and inserts the IP and TCP checksums (checksum
    /// offload): no CPU time.
    TxChecksumOffload => ("nic tx", Checksum, None, "NIC checksum insertion (CHECKSUM_PARTIAL; e1000 IXSM/TXSM)"),
    /// TSO: the NIC cuts a super-segment into MSS-sized frames, copying and
    /// fixing the headers for each; one descriptor chain, many frames.
    /// Count is frames.
    TsoSegment => ("nic tx", Segment, None, "NIC TSO: headers replicated and fixed per segment"),
    /// A frame serialised onto the wire at the link rate.
    WireTx => ("wire", WireTx, None, "MAC transmit at link rate"),
    /// A frame received from the wire by the NIC.
    WireRx => ("nic rx", WireRx, None, "MAC receive"),
    /// A frame dropped on arrival because no Rx descriptor was free: the
    /// ring was full because the host did not refill it fast enough. TCP
    /// retransmits the bytes.
    RxRingDrop => ("nic rx", Drop, None, "rx_missed_errors (Rx ring empty)"),
    /// Header split: the NIC writes the headers and the payload of a frame
    /// into separate buffers, so that the payload can fill whole pages
    /// (what TCP_ZEROCOPY_RECEIVE needs to map them).
    HeaderSplit => ("nic rx", DmaWrite, None, "NIC header split (ixgbe SRRCTL DESCTYPE_HDR_SPLIT)"),
    /// The NIC writes a received frame into the buffer of the next free Rx
    /// descriptor, by DMA.
    RxDmaWrite => ("nic rx", DmaWrite, None, "NIC payload DMA write"),
    /// The NIC writes the frame's length and the DD bit back into the Rx
    /// descriptor (16 bytes): the driver's poll finds the frame by it.
    RxWriteback => ("nic rx", DescWriteback, None, "Rx write-back E1000_RXD_STAT_DD"),
    /// A hardware interrupt: the handler schedules a NAPI poll and masks
    /// the NIC's interrupts until the poll is done.
    Irq => ("driver", Irq, Interrupt, "e1000_intr -> __napi_schedule"),
    /// One NAPI poll: Tx clean, then up to `napi_budget` received frames,
    /// then interrupts back on if the ring is empty.
    NapiPoll => ("napi", NapiPoll, Stack, "net_rx_action -> e1000_clean"),
    /// Tx completion: descriptors the NIC wrote back are reclaimed and the
    /// transmitted sk_buff (the clone TCP handed down) is freed. For a
    /// zero-copy send this drops the clone's hold on the pages; the send
    /// completes once this and the ACK have both happened.
    TxClean => ("napi", Free, Driver, "e1000_clean_tx_irq -> napi_consume_skb"),
    /// Copybreak: a received frame shorter than the driver's threshold
    /// (`copybreak`, 256 bytes by default) is copied into a small fresh
    /// sk_buff and its DMA buffer reused at once. These are mostly pure
    /// ACKs, so a zero-copy sender shows copies here although it copies
    /// none of its data; the report counts them apart from data copies.
    Copybreak => ("napi", Copy, Copy, "e1000_copybreak"),
    /// The NIC verified the frame's checksums (receive checksum offload):
    /// the stack skips its own check.
    RxChecksumOffload => ("napi", Checksum, None, "e1000_rx_checksum: CHECKSUM_UNNECESSARY"),
    /// An sk_buff built around the DMA buffer the frame landed in, without
    /// copying it.
    RxBuildSkb => ("napi", Alloc, Stack, "napi_build_skb"),
    /// A received frame offered to GRO, which merges consecutive segments
    /// of a flow into one larger sk_buff before the stack sees them.
    GroReceive => ("napi", Protocol, Stack, "napi_gro_receive -> dev_gro_receive"),
    /// A frame GRO merged into the open sk_buff of its flow: it skips the
    /// per-packet stack work (the saving the report shows).
    GroMerge => ("napi", Segment, None, "tcp4_gro_receive -> skb_gro_receive (merged)"),
    /// Rx buffers refilled with pages the page pool recycled: no trip to
    /// the page allocator. Bytes are the pages'.
    PagePoolHit => ("napi", Alloc, Driver, "page_pool_dev_alloc_pages (recycled page)"),
    /// Rx buffers refilled from the page allocator because the page pool
    /// was empty: the slow path.
    PagePoolMiss => ("napi", Alloc, Driver, "page_pool_dev_alloc_pages -> alloc_pages (slow path)"),
    /// The softirq's frame budget (`netdev_budget`) ran out with frames
    /// left; Linux hands the rest to ksoftirqd.
    SoftirqSqueeze => ("napi", Wait, None, "net_rx_action: time_squeeze (netdev_budget)"),
    /// Rx descriptors given back to the NIC, each pointing at an empty
    /// buffer.
    RxRefill => ("napi", DescPost, Driver, "e1000_alloc_rx_buffers"),
    /// The driver writes the Rx tail register (RDT) once after a refill
    /// batch.
    RxDoorbell => ("napi", Doorbell, Driver, "writel(RDT)"),
    /// A frame through IP and TCP input (smoltcp): its bytes join the
    /// socket's receive queue, its ACK frees the sender's sk_buffs. Count
    /// is frames (or GRO-merged sk_buffs).
    RxStack => ("tcp", Protocol, Stack, "netif_receive_skb -> ip_rcv -> tcp_v4_rcv"),
    /// A data segment that arrived ahead of a gap (a loss or reordering):
    /// queued out of order until the gap is filled.
    RxOutOfOrder => ("tcp", Protocol, None, "tcp_data_queue_ofo"),
    /// A data segment whose bytes were all queued already (a duplicate or
    /// a needless retransmission): dropped.
    RxDuplicate => ("tcp", Drop, None, "tcp_data_queue (duplicate dropped)"),
    /// The CPU verifies the IP and TCP checksums because the NIC did not
    /// (no `rx-checksum` offload). Priced by the byte.
    RxChecksum => ("tcp", Checksum, Checksum, "ip_fast_csum + tcp_checksum_complete (software)"),
    /// A frame dropped because a checksum was wrong (a corrupted frame);
    /// TCP retransmits its bytes.
    RxBadChecksum => ("tcp", Drop, None, "TCP_MIB_CSUMERRORS (bad checksum)"),
    /// A SYN for a connecting socket whose own SYN has not left yet: Linux
    /// would take it as a simultaneous open; smoltcp 0.14 panics on it, so
    /// the model drops it before smoltcp sees it (only a real peer or a
    /// forged frame sends one).
    RxSynBeforeOwnSyn => ("tcp", Drop, None, "tcp_rcv_synsent_state_process (simultaneous open): dropped, smoltcp 0.14 cannot take it"),
    /// `readv(2)` entering the kernel: one call fills several buffers.
    ReadvSyscall => ("socket->app", Syscall, Syscall, "do_readv -> sock_read_iter -> tcp_recvmsg"),
    /// `getsockopt(TCP_ZEROCOPY_RECEIVE)`: the receiver asks the kernel to
    /// map received pages into its address space instead of copying them.
    ZcRecvSyscall => ("socket->app", Syscall, Syscall, "getsockopt(TCP_ZEROCOPY_RECEIVE) -> tcp_zerocopy_receive"),
    /// Whole payload pages mapped into the application
    /// (TCP_ZEROCOPY_RECEIVE): only page-sized, page-aligned payload can
    /// be mapped, which needs header split and a page-sized MSS; the rest
    /// is copied. Count is pages.
    VmInsertPages => ("socket->app", Map, Pin, "tcp_zerocopy_receive -> vm_insert_pages"),
    /// Mapped pages released when the application is done with them.
    ZcRecvUnmap => ("socket->app", Free, Pin, "madvise(MADV_DONTNEED) -> zap_page_range"),
    /// io_uring's provided-buffer ring hands the kernel a buffer for a
    /// receive: the application does not name one per call.
    IoUringBufSelect => ("socket->app", Handler, None, "io_recv -> io_buffer_select (provided-buffer ring)"),
    /// `splice(2)` on the receiving side: socket to pipe, then pipe to
    /// file; nothing reaches user space.
    SpliceRecvSyscall => ("socket->app", Syscall, Syscall, "do_splice: tcp_splice_read -> skb_splice_bits, then pipe -> file"),
    /// Received pages moved into a pipe as references: no copy.
    SplicePipeRef => ("socket->app", Map, Stack, "skb_splice_bits (pipe buffers reference the skb pages)"),
    /// The pipe's bytes written into the page cache of the destination
    /// file: the one copy the splice receive path makes.
    SpliceToFile => ("socket->file", Copy, Copy, "iter_file_splice_write -> copy into the page cache"),
    /// `read(2)` entering the kernel: `tcp_recvmsg` copies what the receive
    /// queue holds, up to the buffer's size, into the application.
    ReadSyscall => ("socket->app", Syscall, Syscall, "ksys_read -> sock_read_iter -> tcp_recvmsg"),
    /// The reader blocks because the receive queue is empty; it wakes when
    /// data arrives.
    RcvWait => ("socket->app", Wait, None, "sk_wait_data"),
    /// The CPU copies received bytes from the kernel's sk_buffs into the
    /// user's buffer: the receive-side copy every copying path pays.
    CopyToUser => ("socket->app", Copy, Copy, "copy_to_user (skb_copy_datagram_iter)"),
    /// Receive-queue sk_buffs the reads consumed, freed.
    RxSkbFree => ("socket->app", Free, Stack, "tcp_recvmsg -> tcp_eat_recv_skb"),
    /// Framing: the message header and trailer built in temporary buffers
    /// for a gather write.
    FramingTemp => ("app", Alloc, Stack, "application: header/trailer temporaries for the gather write"),
    /// Framing: one part of a message (header, body, trailer) read whole.
    FramingPart => ("app", Handler, None, "application: composed read, message part complete"),
    /// A dynamic receive buffer reallocated to grow: the bytes it held are
    /// copied into the new allocation (what `read_until` into a doubling
    /// vector costs).
    DynamicGrow => ("app", Copy, Copy, "application: dynamic buffer grows (realloc copies what it holds)"),
    /// A streambuf's prepare/commit around a read.
    StreambufCommit => ("app", Handler, None, "application: streambuf prepare / commit"),
    /// `read_until` found the delimiter: one message handed over and
    /// consumed.
    ReadUntilMessage => ("app", Handler, None, "application: read_until message complete, consumed"),
    /// A zero-copy send's pages released (`put_page`, one per page) once
    /// its last reference is gone: TCP has every byte acknowledged and the
    /// driver has freed every transmitted clone. Count is pages.
    PutUserPages => ("completion", Unpin, Pin, "skb_release_data -> put_page"),
    /// A zero-copy completion queued on the socket's error queue
    /// (`__msg_zerocopy_callback`), merged with the previous one when the
    /// ranges are consecutive. Count is notifications, bytes what they
    /// cover.
    ZerocopyComplete => ("completion", Completion, Stack, "skb_zcopy_clear -> __msg_zerocopy_callback"),
    /// An io_uring completion read from the completion ring: a request's
    /// result (with F_MORE for a zero-copy send) or its F_NOTIF
    /// notification that the buffer is free again.
    IoUringCqe => ("completion", Handler, None, "io_uring CQE (io_req_complete_post / io_tx_ubuf_complete)"),
    /// io_uring registered buffers unpinned when unregistered, at the end.
    /// Count is pages.
    IoUringUnregister => ("completion", Unpin, Pin, "io_sqe_buffers_unregister -> unpin_user_pages"),
    /// The application reaps zero-copy completions with
    /// `recvmsg(MSG_ERRQUEUE)`: one call per range of consecutive sends
    /// (`ee_info`..`ee_data`). Count is calls; the bytes column holds the
    /// number of sends they covered.
    ErrqueueSyscall => ("completion", Syscall, Syscall, "recvmsg(MSG_ERRQUEUE) -> ip_recv_error"),
    /// The application waits for a zero-copy completion before it can
    /// take a buffer (its pool is all in flight) or finish.
    CompletionWait => ("completion", Wait, None, "waiting for a completion: poll(POLLERR) / io_uring_enter(GETEVENTS)"),
    /// Lifecycle: the application hands the buffer to the kernel.
    BufferInitiated => ("app", Handler, None, "lifecycle: initiated (ownership passes to the kernel)"),
    /// Lifecycle: the call returned but the kernel still holds the pages;
    /// the application must not touch the buffer.
    BufferPending => ("app", Handler, None, "lifecycle: pending (must not be touched)"),
    /// Lifecycle: the kernel is done with the buffer (copied at the call,
    /// or its zero-copy send completed).
    BufferComplete => ("app", Handler, None, "lifecycle: complete (ownership returns)"),
    /// The lifetime bug: the application writes its next data into a
    /// buffer whose zero-copy send has not completed (`reuse =
    /// "immediately"`). Bytes are the earlier send's, now overwritten in
    /// the buffer before the NIC has read all of them.
    BufferRewritten => ("app", Violation, None, "application: writes a buffer a zero-copy send still holds (lifetime violation)"),
    /// Lifecycle: the application learnt that the buffer is free (a
    /// completion reaped, or at once for a copy) and returned it to its
    /// pool; it may be reused.
    BufferReturned => ("completion", Handler, None, "lifecycle: handler invoked, buffer back in pool (may be reused)"),
}

impl Step {
    pub const COUNT: usize = Step::ALL.len();
}

/// Count, bytes and CPU time of one step on one host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: u64,
    pub bytes: u64,
    pub cpu_ns: u64,
}

/// The always-on tally of every step on one host.
#[derive(Debug, Clone)]
pub struct Counters {
    pub steps: [Tally; Step::COUNT],
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            steps: [Tally::default(); Step::COUNT],
        }
    }
}

impl Counters {
    #[inline]
    pub fn add(&mut self, step: Step, count: u64, bytes: u64, cpu_ns: u64) {
        let t = &mut self.steps[step as usize];
        t.count += count;
        t.bytes += bytes;
        t.cpu_ns += cpu_ns;
    }

    pub fn get(&self, step: Step) -> Tally {
        self.steps[step as usize]
    }

    /// Sum over every step of one kind.
    pub fn kind(&self, kind: Kind) -> Tally {
        let mut sum = Tally::default();
        for (i, s) in Step::ALL.iter().enumerate() {
            if s.kind() == kind {
                sum.count += self.steps[i].count;
                sum.bytes += self.steps[i].bytes;
                sum.cpu_ns += self.steps[i].cpu_ns;
            }
        }
        sum
    }

    /// CPU time charged to one category.
    pub fn cpu(&self, cat: CpuCategory) -> u64 {
        Step::ALL
            .iter()
            .enumerate()
            .filter(|(_, s)| s.category() == cat)
            .map(|(i, _)| self.steps[i].cpu_ns)
            .sum()
    }
}

/// One accounted event, as observers see it.
#[derive(Debug, Clone, Copy)]
pub struct Event {
    pub time: Nanos,
    pub host: u8,
    pub step: Step,
    pub count: u64,
    pub bytes: u64,
    pub cpu_ns: u64,
    /// What application bytes and which ring slot the event concerns.
    pub ctx: Ctx,
}

/// Provenance of an event: the flow, the application buffer, the stream
/// bytes and the descriptor ring slot it concerns, where it has them. Stream
/// offsets map back to a buffer through the send calls that wrote them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ctx {
    pub flow: u16,
    pub buffer: u32,
    /// First stream byte and how many (len 0: none).
    pub stream: (u64, u64),
    pub slot: u16,
}

impl Ctx {
    /// An event about no bytes in particular.
    pub const NONE: Ctx = Ctx {
        flow: u16::MAX,
        buffer: u32::MAX,
        stream: (0, 0),
        slot: u16::MAX,
    };

    /// Stream bytes `[start, start + len)` of `flow`.
    pub fn stream(flow: usize, start: u64, len: u64) -> Ctx {
        Ctx {
            flow: flow as u16,
            stream: (start, len),
            ..Ctx::NONE
        }
    }

    pub fn with_buffer(self, buffer: u32) -> Ctx {
        Ctx { buffer, ..self }
    }

    pub fn with_slot(self, slot: u16) -> Ctx {
        Ctx { slot, ..self }
    }

    pub fn buffer(&self) -> Option<u32> {
        (self.buffer != u32::MAX).then_some(self.buffer)
    }

    pub fn slot(&self) -> Option<u16> {
        (self.slot != u16::MAX).then_some(self.slot)
    }

    /// The stream range, if any: (flow, start, end).
    pub fn range(&self) -> Option<(u16, u64, u64)> {
        (self.stream.1 > 0).then_some((self.flow, self.stream.0, self.stream.0 + self.stream.1))
    }
}

/// Which way a frame crosses a host's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Leaving the host's NIC (timestamp: first bit on the wire).
    Out,
    /// Arriving at the host's NIC (timestamp: last bit off the wire).
    In,
}

/// Receives what the model does. Every method has an empty default.
pub trait Observer {
    /// Whether [`Observer::frame`] should be called.
    fn wants_frames(&self) -> bool {
        false
    }
    /// Whether [`Observer::event`] should be called.
    fn wants_events(&self) -> bool {
        false
    }
    /// A frame crossing `host`'s port, with what the model knows about it
    /// (whose bytes, which ring slots, what the wire and the receiving NAPI
    /// did with it). Called in time order per host; a received frame is
    /// handed over once NAPI has taken it (or the run has ended), frames
    /// that crossed the port after it wait for it.
    fn frame(
        &mut self,
        _host: usize,
        _time: Nanos,
        _dir: Direction,
        _frame: &[u8],
        _info: &FrameInfo,
    ) {
    }
    /// One accounted event.
    fn event(&mut self, _event: &Event) {}
    /// Every how much virtual time [`Observer::sample`] should be called,
    /// or `None` (the default) for never. Asked before the run and again
    /// after each sample, so an observer may make its samples sparser as a
    /// run goes on (0 counts as 1 ns).
    fn sample_every(&self) -> Option<Nanos> {
        None
    }
    /// The model's gauges at `sample.time`: at 0, at each multiple of
    /// [`Observer::sample_every`] that an event reaches (one sample for a
    /// stretch of time in which nothing happened), and once when the run
    /// ends.
    fn sample(&mut self, _sample: &Sample) {}
}

/// An observer that wants nothing.
pub struct NoObserver;

impl Observer for NoObserver {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_names_what_it_models() {
        for s in Step::ALL {
            assert!(!s.models().is_empty(), "{s:?}");
            assert!(!s.stage().is_empty(), "{s:?}");
        }
    }

    /// Every word a report row can print is explained: each step (its doc
    /// comment, a sentence at least), its stage, its kind, its category.
    #[test]
    fn every_step_kind_category_and_stage_is_explained() {
        for &s in Step::ALL {
            let text = s.explanation();
            assert!(text.len() >= 40 && text.ends_with('.'), "{s:?}: {text:?}");
            let stage = stage(s.stage()).unwrap_or_else(|| panic!("{s:?}: no stage"));
            assert!(!stage.heading.is_empty() && stage.explanation.ends_with('.'));
        }
        for k in Kind::VARIANTS {
            assert!(k.explanation().ends_with('.'), "{k:?}");
            assert!(Step::ALL.iter().any(|s| s.kind() == *k), "{k:?} unused");
        }
        for c in CpuCategory::VARIANTS {
            assert!(c.explanation().ends_with('.'), "{c:?}");
        }
        for st in STAGES {
            assert!(
                Step::ALL.iter().any(|s| s.stage() == st.name),
                "{}",
                st.name
            );
        }
    }

    #[test]
    fn step_names_are_snake_case_and_distinct() {
        assert_eq!(Step::PutUserPages.name(), "put_user_pages");
        assert_eq!(Step::Copybreak.name(), "copybreak");
        let mut names: Vec<String> = Step::ALL.iter().map(|s| s.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Step::COUNT);
        // A doc comment's lines become one paragraph.
        assert_eq!(paragraph(&[" a b", "  c "]), "a b c");
    }

    #[test]
    fn counters_sum_by_kind() {
        let mut c = Counters::default();
        c.add(Step::CopyFromUser, 1, 100, 10);
        c.add(Step::CopyToUser, 2, 50, 5);
        c.add(Step::WriteSyscall, 1, 0, 200);
        let copies = c.kind(Kind::Copy);
        assert_eq!((copies.count, copies.bytes, copies.cpu_ns), (3, 150, 15));
        assert_eq!(c.cpu(CpuCategory::Syscall), 200);
    }
}
