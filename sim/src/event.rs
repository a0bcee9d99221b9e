//! The event vocabulary every stage emits, and the observers that listen.
//!
//! Owns [`Step`]: each accounted step of the journey, with the stage it
//! belongs to, its kind (copy, pin, DMA, ...), the CPU category its cost is
//! charged to, and the Linux function or hardware step it models. Owns
//! [`Counters`], the always-on per-host tally behind the report, and the
//! [`Observer`] trait through which the tool receives frames (for captures),
//! individual events (for traces and timelines) and the model's gauges at
//! fixed steps of virtual time ([`Sample`], for plots over time).
//!
//! Does not format anything: observers decide what to write. An observer that
//! asks for nothing costs nothing: the model checks [`Observer::wants_events`],
//! [`Observer::wants_frames`] and [`Observer::sample_every`] once and skips
//! the calls otherwise.

use crate::engine::Nanos;
pub use crate::sample::Sample;

/// What a step is, in the report's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Syscall,
    Copy,
    Pin,
    Unpin,
    Map,
    DmaRead,
    DmaWrite,
    Checksum,
    Segment,
    Protocol,
    Alloc,
    Free,
    DescPost,
    DescWriteback,
    Doorbell,
    Irq,
    NapiPoll,
    WireTx,
    WireRx,
    Drop,
    Retransmit,
    Completion,
    Handler,
    Wait,
    Frag,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Syscall => "syscall",
            Kind::Copy => "copy",
            Kind::Pin => "pin",
            Kind::Unpin => "unpin",
            Kind::Map => "map",
            Kind::DmaRead => "dma_read",
            Kind::DmaWrite => "dma_write",
            Kind::Checksum => "checksum",
            Kind::Segment => "segment",
            Kind::Protocol => "protocol",
            Kind::Alloc => "alloc",
            Kind::Free => "free",
            Kind::DescPost => "desc_post",
            Kind::DescWriteback => "desc_writeback",
            Kind::Doorbell => "doorbell",
            Kind::Irq => "irq",
            Kind::NapiPoll => "napi_poll",
            Kind::WireTx => "wire_tx",
            Kind::WireRx => "wire_rx",
            Kind::Drop => "drop",
            Kind::Retransmit => "retransmit",
            Kind::Completion => "completion",
            Kind::Handler => "handler",
            Kind::Wait => "wait",
            Kind::Frag => "frag",
        }
    }
}

/// Where CPU time goes, for the report's CPU breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuCategory {
    /// Not CPU work: DMA, wire, or bookkeeping with no cost.
    None,
    Syscall,
    Copy,
    Pin,
    Checksum,
    /// Per-packet protocol and socket work.
    Stack,
    /// Driver work: descriptors, doorbells, ring cleaning.
    Driver,
    Interrupt,
}

impl CpuCategory {
    pub const ALL: [CpuCategory; 7] = [
        CpuCategory::Syscall,
        CpuCategory::Copy,
        CpuCategory::Pin,
        CpuCategory::Checksum,
        CpuCategory::Stack,
        CpuCategory::Driver,
        CpuCategory::Interrupt,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CpuCategory::None => "none",
            CpuCategory::Syscall => "syscall",
            CpuCategory::Copy => "copy",
            CpuCategory::Pin => "pin",
            CpuCategory::Checksum => "checksum",
            CpuCategory::Stack => "stack",
            CpuCategory::Driver => "driver",
            CpuCategory::Interrupt => "interrupt",
        }
    }
}

macro_rules! steps {
    ($( $(#[$doc:meta])* $name:ident => ($stage:expr, $kind:ident, $cat:ident, $models:expr), )*) => {
        /// One accounted step of the journey.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        pub enum Step { $( $(#[$doc])* $name, )* }

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
        }
    };
}

steps! {
    /// `write(2)` entering the kernel.
    WriteSyscall => ("app->socket", Syscall, Syscall, "ksys_write -> sock_write_iter -> tcp_sendmsg"),
    /// `sendmsg(MSG_ZEROCOPY)` entering the kernel.
    SendmsgSyscall => ("app->socket", Syscall, Syscall, "__sys_sendmsg -> tcp_sendmsg_locked (MSG_ZEROCOPY)"),
    /// `writev(2)` entering the kernel.
    WritevSyscall => ("app->socket", Syscall, Syscall, "do_writev -> sock_write_iter -> tcp_sendmsg"),
    /// `sendfile(2)` entering the kernel.
    SendfileSyscall => ("app->socket", Syscall, Syscall, "do_sendfile -> do_splice_direct -> splice_to_socket"),
    /// `splice(2)` file -> pipe, then pipe -> socket.
    SpliceSyscall => ("app->socket", Syscall, Syscall, "do_splice: file -> pipe -> socket (MSG_SPLICE_PAGES)"),
    /// An io_uring submission (no syscall by itself).
    IoUringSqe => ("app->socket", Handler, None, "io_uring SQE written to the submission ring"),
    /// `io_uring_enter(2)`: one per batch of submissions.
    IoUringEnter => ("app->socket", Syscall, Syscall, "io_uring_enter -> io_submit_sqes"),
    /// Registered buffers pinned once (io_uring_fixed).
    IoUringRegister => ("app->socket", Pin, Pin, "io_sqe_buffers_register -> pin_user_pages_fast(FOLL_LONGTERM)"),
    /// A send using a registered buffer: no pinning, the pages are known.
    IoUringImportFixed => ("app->socket", Map, Stack, "io_send_zc -> io_import_fixed"),
    /// Page-cache pages referenced by sendfile/splice: no copy, no pin.
    PageCacheRef => ("app->socket", Map, Stack, "skb_splice_from_iter: get_page (page cache, SKBFL_SHARED_FRAG)"),
    /// The writer blocks because the send buffer is full.
    SndbufWait => ("app->socket", Wait, None, "sk_stream_wait_memory"),
    /// A small write left in the tail sk_buff, not pushed: the socket's
    /// earlier frames are still in the driver or NIC, and their Tx
    /// completion pushes it.
    Autocork => ("tcp", Wait, None, "tcp_push: tcp_should_autocork (held until Tx completion)"),
    /// User bytes copied into kernel page frags.
    CopyFromUser => ("app->socket", Copy, Copy, "copy_from_user (skb_copy_to_page_nocache)"),
    /// A zero-copy send's setup beyond its pages: pinned-page accounting,
    /// the page-table walk, the completion record's reference.
    ZerocopySetup => ("app->socket", Protocol, Pin, "mm_account_pinned_pages + iov_iter_get_pages2 (per send)"),
    /// User pages referenced for MSG_ZEROCOPY.
    GetUserPages => ("app->socket", Pin, Pin, "get_user_pages_fast (skb_zerocopy_iter_stream)"),
    /// Frags the sent bytes start in sk_buffs (a region, a page, a page frag).
    SkbFrag => ("socket", Frag, None, "skb_fill_page_desc / skb_coalesce (new frag)"),
    /// The zero-copy completion record for a send.
    ZerocopyAlloc => ("socket", Alloc, Stack, "msg_zerocopy_alloc (a new notification)"),
    /// A zero-copy send joined the previous send's notification (its bytes
    /// still unsent in the tail sk_buff): no allocation, one completion for
    /// both.
    ZerocopyExtend => ("socket", Protocol, None, "msg_zerocopy_realloc (extends the notification)"),
    /// A data sk_buff: one per segment (cut when first transmitted, as
    /// tcp_fragment leaves Linux without TSO).
    SkbAlloc => ("socket", Alloc, Stack, "tcp_stream_alloc_skb / tcp_fragment"),
    /// Acknowledged sk_buffs freed from the retransmit queue.
    SkbFreeAcked => ("socket", Free, Stack, "tcp_clean_rtx_queue -> tcp_wmem_free_skb"),
    /// A data segment leaves TCP.
    TcpXmit => ("tcp", Segment, Stack, "tcp_write_xmit -> tcp_transmit_skb -> ip_queue_xmit"),
    /// A segment carrying bytes already sent once.
    TcpRetransmit => ("tcp", Retransmit, None, "tcp_retransmit_skb"),
    /// A pure ACK (no payload, no SYN, FIN or RST) leaves the stack.
    AckXmit => ("tcp", Protocol, Stack, "tcp_send_ack -> __tcp_transmit_skb (pure ACK)"),
    /// Another control frame (SYN, FIN, RST, ARP, ICMP) leaves the stack.
    CtrlXmit => ("tcp", Protocol, Stack, "tcp_connect / tcp_send_fin / arp_send -> dev_queue_xmit"),
    /// IP and TCP checksums computed by the CPU.
    TxChecksum => ("tcp", Checksum, Checksum, "ip_send_check + __tcp_v4_send_check (software)"),
    /// Software segmentation of a super-segment the NIC cannot cut.
    GsoSegment => ("tcp", Segment, Stack, "validate_xmit_skb -> skb_gso_segment -> tcp_gso_segment"),
    /// Zero-copy frags copied so the CPU may checksum them (user pages may
    /// change under a software checksum: Linux's shared-frag rule).
    ZerocopyChecksumCopy => ("tcp", Copy, Copy, "skb_checksum_help -> __skb_linearize (shared frags)"),
    /// One Tx descriptor written by the driver.
    TxDescPost => ("driver", DescPost, Driver, "e1000_tx_map -> e1000_tx_queue"),
    /// Tail register written after a batch.
    TxDoorbell => ("driver", Doorbell, Driver, "writel(TDT)"),
    /// The queue stopped because the Tx ring is full.
    TxRingFull => ("driver", Wait, None, "netif_stop_queue (Tx ring full)"),
    /// The NIC fetches descriptors from host memory.
    TxDescFetch => ("nic tx", DmaRead, None, "NIC descriptor fetch (DMA read)"),
    /// The NIC reads the frame's bytes from host memory.
    TxDmaRead => ("nic tx", DmaRead, None, "NIC payload DMA read"),
    /// The NIC writes DD back into a Tx descriptor.
    TxWriteback => ("nic tx", DescWriteback, None, "Tx write-back E1000_TXD_STAT_DD"),
    /// The NIC computes and inserts the IP and TCP checksums.
    TxChecksumOffload => ("nic tx", Checksum, None, "NIC checksum insertion (CHECKSUM_PARTIAL; e1000 IXSM/TXSM)"),
    /// The NIC cuts a super-segment into MSS-sized frames.
    TsoSegment => ("nic tx", Segment, None, "NIC TSO: headers replicated and fixed per segment"),
    /// A frame serialised onto the wire.
    WireTx => ("wire", WireTx, None, "MAC transmit at link rate"),
    /// A frame received from the wire.
    WireRx => ("nic rx", WireRx, None, "MAC receive"),
    /// A frame dropped because no Rx descriptor was free.
    RxRingDrop => ("nic rx", Drop, None, "rx_missed_errors (Rx ring empty)"),
    /// The NIC writes headers and payload to separate buffers.
    HeaderSplit => ("nic rx", DmaWrite, None, "NIC header split (ixgbe SRRCTL DESCTYPE_HDR_SPLIT)"),
    /// The NIC writes a frame into a posted Rx buffer.
    RxDmaWrite => ("nic rx", DmaWrite, None, "NIC payload DMA write"),
    /// The NIC writes length and DD back into an Rx descriptor.
    RxWriteback => ("nic rx", DescWriteback, None, "Rx write-back E1000_RXD_STAT_DD"),
    /// A hardware interrupt.
    Irq => ("driver", Irq, Interrupt, "e1000_intr -> __napi_schedule"),
    /// One NAPI poll.
    NapiPoll => ("napi", NapiPoll, Stack, "net_rx_action -> e1000_clean"),
    /// Tx descriptors reclaimed and the transmitted sk_buff freed.
    TxClean => ("napi", Free, Driver, "e1000_clean_tx_irq -> napi_consume_skb"),
    /// A small frame copied into a fresh sk_buff.
    Copybreak => ("napi", Copy, Copy, "e1000_copybreak"),
    /// The NIC checked the frame's checksums.
    RxChecksumOffload => ("napi", Checksum, None, "e1000_rx_checksum: CHECKSUM_UNNECESSARY"),
    /// An sk_buff built around the DMA buffer.
    RxBuildSkb => ("napi", Alloc, Stack, "napi_build_skb"),
    /// A frame offered to GRO.
    GroReceive => ("napi", Protocol, Stack, "napi_gro_receive -> dev_gro_receive"),
    /// A frame GRO merged into the open skb of its flow (no stack pass).
    GroMerge => ("napi", Segment, None, "tcp4_gro_receive -> skb_gro_receive (merged)"),
    /// Rx buffers refilled from recycled pages.
    PagePoolHit => ("napi", Alloc, Driver, "page_pool_dev_alloc_pages (recycled page)"),
    /// Rx buffers refilled from the page allocator: the pool was empty.
    PagePoolMiss => ("napi", Alloc, Driver, "page_pool_dev_alloc_pages -> alloc_pages (slow path)"),
    /// The softirq's frame budget ran out; the rest goes to ksoftirqd.
    SoftirqSqueeze => ("napi", Wait, None, "net_rx_action: time_squeeze (netdev_budget)"),
    /// Rx descriptors given back to the NIC.
    RxRefill => ("napi", DescPost, Driver, "e1000_alloc_rx_buffers"),
    /// Rx tail register written after a refill batch.
    RxDoorbell => ("napi", Doorbell, Driver, "writel(RDT)"),
    /// A frame through IP and TCP input.
    RxStack => ("tcp", Protocol, Stack, "netif_receive_skb -> ip_rcv -> tcp_v4_rcv"),
    /// A data segment that arrived ahead of a gap.
    RxOutOfOrder => ("tcp", Protocol, None, "tcp_data_queue_ofo"),
    /// A data segment whose bytes were all queued already.
    RxDuplicate => ("tcp", Drop, None, "tcp_data_queue (duplicate dropped)"),
    /// IP and TCP checksums verified by the CPU.
    RxChecksum => ("tcp", Checksum, Checksum, "ip_fast_csum + tcp_checksum_complete (software)"),
    /// A frame the stack rejected because a checksum was wrong.
    RxBadChecksum => ("tcp", Drop, None, "TCP_MIB_CSUMERRORS (bad checksum)"),
    /// A SYN for a connecting socket whose own SYN has not left yet: Linux
    /// would take it as a simultaneous open; smoltcp 0.14 panics on it, so
    /// the model drops it before smoltcp sees it (only a real peer or a
    /// forged frame sends one).
    RxSynBeforeOwnSyn => ("tcp", Drop, None, "tcp_rcv_synsent_state_process (simultaneous open): dropped, smoltcp 0.14 cannot take it"),
    /// `readv(2)` entering the kernel.
    ReadvSyscall => ("socket->app", Syscall, Syscall, "do_readv -> sock_read_iter -> tcp_recvmsg"),
    /// `getsockopt(TCP_ZEROCOPY_RECEIVE)` entering the kernel.
    ZcRecvSyscall => ("socket->app", Syscall, Syscall, "getsockopt(TCP_ZEROCOPY_RECEIVE) -> tcp_zerocopy_receive"),
    /// Whole payload pages mapped into the application.
    VmInsertPages => ("socket->app", Map, Pin, "tcp_zerocopy_receive -> vm_insert_pages"),
    /// Mapped pages released when the application is done with them.
    ZcRecvUnmap => ("socket->app", Free, Pin, "madvise(MADV_DONTNEED) -> zap_page_range"),
    /// The provided-buffer ring hands the kernel a buffer for a receive.
    IoUringBufSelect => ("socket->app", Handler, None, "io_recv -> io_buffer_select (provided-buffer ring)"),
    /// `splice(2)` socket -> pipe -> file.
    SpliceRecvSyscall => ("socket->app", Syscall, Syscall, "do_splice: tcp_splice_read -> skb_splice_bits, then pipe -> file"),
    /// Received pages moved into a pipe: references, no copy.
    SplicePipeRef => ("socket->app", Map, Stack, "skb_splice_bits (pipe buffers reference the skb pages)"),
    /// The pipe's bytes written into the page cache of the file.
    SpliceToFile => ("socket->file", Copy, Copy, "iter_file_splice_write -> copy into the page cache"),
    /// `read(2)` entering the kernel.
    ReadSyscall => ("socket->app", Syscall, Syscall, "ksys_read -> sock_read_iter -> tcp_recvmsg"),
    /// The reader blocks because the receive queue is empty.
    RcvWait => ("socket->app", Wait, None, "sk_wait_data"),
    /// Kernel bytes copied into the user buffer.
    CopyToUser => ("socket->app", Copy, Copy, "copy_to_user (skb_copy_datagram_iter)"),
    /// Receive-queue sk_buffs the reads consumed, freed.
    RxSkbFree => ("socket->app", Free, Stack, "tcp_recvmsg -> tcp_eat_recv_skb"),
    /// Framing: header and trailer built in temporary buffers.
    FramingTemp => ("app", Alloc, Stack, "application: header/trailer temporaries for the gather write"),
    /// Framing: one part of a message (header, body, trailer) read whole.
    FramingPart => ("app", Handler, None, "application: composed read, message part complete"),
    /// A dynamic receive buffer reallocated: the bytes it held are copied.
    DynamicGrow => ("app", Copy, Copy, "application: dynamic buffer grows (realloc copies what it holds)"),
    /// A streambuf's prepare/commit around a read.
    StreambufCommit => ("app", Handler, None, "application: streambuf prepare / commit"),
    /// read_until found the delimiter: one message handed over and consumed.
    ReadUntilMessage => ("app", Handler, None, "application: read_until message complete, consumed"),
    /// The last reference to zero-copy data dropped: pages released.
    PutUserPages => ("completion", Unpin, Pin, "skb_release_data -> put_page"),
    /// A completion queued (or merged) on the socket's error queue.
    ZerocopyComplete => ("completion", Completion, Stack, "skb_zcopy_clear -> __msg_zerocopy_callback"),
    /// An io_uring completion read from the completion ring: the result
    /// (with F_MORE for a zero-copy send) or the F_NOTIF notification.
    IoUringCqe => ("completion", Handler, None, "io_uring CQE (io_req_complete_post / io_tx_ubuf_complete)"),
    /// Registered buffers unpinned at unregistration.
    IoUringUnregister => ("completion", Unpin, Pin, "io_sqe_buffers_unregister -> unpin_user_pages"),
    /// The application reaps completions.
    ErrqueueSyscall => ("completion", Syscall, Syscall, "recvmsg(MSG_ERRQUEUE) -> ip_recv_error"),
    /// The application waits for a completion to free a buffer.
    CompletionWait => ("completion", Wait, None, "waiting for a completion: poll(POLLERR) / io_uring_enter(GETEVENTS)"),
    /// Lifecycle: the application hands the buffer to the kernel.
    BufferInitiated => ("app", Handler, None, "lifecycle: initiated (ownership passes to the kernel)"),
    /// Lifecycle: the call returned but the kernel still holds the pages.
    BufferPending => ("app", Handler, None, "lifecycle: pending (must not be touched)"),
    /// Lifecycle: the kernel is done with the buffer.
    BufferComplete => ("app", Handler, None, "lifecycle: complete (ownership returns)"),
    /// Lifecycle: the application learnt of it; the buffer may be reused.
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
    /// A frame crossing `host`'s port. Called in time order per host.
    fn frame(&mut self, _host: usize, _time: Nanos, _dir: Direction, _frame: &[u8]) {}
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
